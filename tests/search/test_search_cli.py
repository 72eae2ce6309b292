"""`shopsense search` / `train-search` on a tiny store (fast encoder patched in)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search_helpers import HashingEncoder
from shopsense.cli import main
from shopsense.domain import Product


@pytest.fixture
def data_dir(tmp_path: Path, products: list[Product], monkeypatch: pytest.MonkeyPatch) -> str:
    import shopsense.features.text as text_module
    import shopsense.search.engine as engine_module

    encoder = HashingEncoder()
    monkeypatch.setattr(engine_module, "default_encoder", lambda kind="minilm": encoder)
    monkeypatch.setattr(text_module, "default_encoder", lambda kind="minilm": encoder)
    return _ingest(tmp_path, products)


def _ingest(tmp_path: Path, products: list[Product]) -> str:
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("".join(p.model_dump_json() + "\n" for p in products))
    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "ingest", "catalog", str(catalog)]) == 0
    return data


def test_search_json_and_text(data_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["--data-dir", data_dir, "search", "running shoes under 90", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["items"][0]["id"] == "P1"
    assert result["understood"] == ["price <= 90"]
    assert "brand" in result["facets"]
    assert (Path(data_dir) / "search" / "search.json").is_file()
    assert main(["--data-dir", data_dir, "search", "sofa", "-n", "1"]) == 0
    out = capsys.readouterr().out
    assert "P4" in out and "results for 'sofa'" in out


def test_empty_catalog_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--data-dir", str(tmp_path / "none"), "search", "mug"])
    assert code != 0
    assert "catalog" in capsys.readouterr().err


def test_train_search_on_own_judgments(
    data_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = tmp_path / "judged"
    judged.mkdir()
    rows = ["query_id\tquery\tproduct_id\tgrade"]
    for i, (query, good) in enumerate(
        [
            ("running shoe", "P2"),
            ("trail shoe", "P1"),
            ("sofa", "P4"),
            ("mug", "P5"),
            ("phone case", "P6"),
            ("rain jacket", "P7"),
            ("wallet", "P8"),
            ("socks", "P3"),
        ]
    ):
        rows.append(f"q{i}\t{query}\t{good}\t3")
    (judged / "qrels.tsv").write_text("\n".join(rows) + "\n")
    assert main(["--data-dir", data_dir, "train-search", "--judgments", str(judged)]) == 0
    assert "trained the search ranker on 8 queries" in capsys.readouterr().out
    assert (Path(data_dir) / "search" / "ranker" / "ranker.txt").is_file()
    assert main(["--data-dir", data_dir, "search", "running shoe", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reranked"] is True


@pytest.mark.slow
def test_search_with_the_static_encoder(
    tmp_path: Path,
    products: list[Product],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("model2vec")
    monkeypatch.setenv("SHOPSENSE_SEARCH_ENCODER", "static")
    data_dir = _ingest(tmp_path, products)
    capsys.readouterr()
    assert main(["--data-dir", data_dir, "search", "running shoes", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"P1", "P2"} <= {result["items"][i]["id"] for i in range(3)}
    saved = json.loads((Path(data_dir) / "search" / "search.json").read_text())
    assert saved["encoder"].endswith("StaticEncoder/256")
    # Switching back to MiniLM rebuilds: the saved vectors live in the other space.
    monkeypatch.setenv("SHOPSENSE_SEARCH_ENCODER", "minilm")
    assert main(["--data-dir", data_dir, "search", "sofa", "--json"]) == 0
    saved = json.loads((Path(data_dir) / "search" / "search.json").read_text())
    assert saved["encoder"].endswith("TextEncoder/384")
