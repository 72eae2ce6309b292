"""``train`` says what will serve and warns about a worse bundle; ``recommend`` explains
each item, says when trending stands in, and answers with the HTTP API's keys."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from progress_helpers import RecordingReporter
from shopsense import progress
from shopsense.cli import main


def cli(data: str, *argv: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of one command (for module-scoped fixtures)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--data-dir", data, *argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny shop trained twice: a blend of two models (text output, progress recorded),
    then popularity alone without the gate (JSON), which scores below the blend."""
    data = str(tmp_path_factory.mktemp("shop") / "data")
    shop_size = ["--products", "80", "--users", "25", "--seed", "3"]
    assert cli(data, "generate", *shop_size)[0] == 0
    assert cli(data, "ingest", "catalog", f"{data}/sample-shop/catalog.jsonl")[0] == 0
    assert cli(data, "ingest", "events", f"{data}/sample-shop/events.parquet")[0] == 0
    reporter = RecordingReporter()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(progress, "TerminalReporter", lambda: reporter)
        first = cli(data, "train", "--text", "none", "--models", "popularity,item_knn")
    worse = ["--text", "none", "--models", "popularity", "--no-gate", "--json"]
    second = cli(data, "train", *worse)
    return {"data": data, "first": first, "second": second, "reporter": reporter}


def test_train_ends_with_the_verdict_and_what_serves(shop: dict[str, Any]) -> None:
    code, out, err = shop["first"]
    assert code == 0, err
    tail = out.split("quality gate: ", 1)[1].splitlines()
    assert tail[0].startswith("passed (retrieval NDCG@10")
    bundle = tail[1].removeprefix("published bundle ")
    assert tail[2].startswith(f"serving: bundle {bundle} ")
    scenarios = dict(line.split(maxsplit=1) for line in tail[3:])
    assert scenarios["for_you"].startswith("stack: candidates from ")
    assert "item_knn" in scenarios["for_you"] and "popularity" in scenarios["for_you"]
    assert scenarios["trending"].startswith("trending: popularity")
    assert scenarios["new_shopper"] == "trending: no history yet: trending"
    assert {"session", "similar", "bought_together"} <= scenarios.keys()
    assert "WARNING" not in err


def test_train_reports_progress_through_the_progress_module(shop: dict[str, Any]) -> None:
    reporter: RecordingReporter = shop["reporter"]
    assert reporter.notes[0] == "reading the events and the catalog"
    assert any(n.startswith("quality gate: passed") for n in reporter.notes)
    validating = reporter.task("validating retrieval models")
    assert (validating.total, validating.done, validating.unit) == (2, 2, "models")
    epochs = reporter.task("item tower epochs")  # per epoch, bounded by early stopping
    assert epochs.unit == "epochs" and 0 < epochs.done <= (epochs.total or 0)
    assert all(t.closed for t in reporter.tasks)


def test_a_published_bundle_that_scores_below_the_served_one_is_a_loud_warning(
    shop: dict[str, Any],
) -> None:
    first_bundle = shop["first"][1].split("published bundle ", 1)[1].split()[0]
    code, out, err = shop["second"]
    body = json.loads(out)
    assert code == 0 and body["published"] and body["gate"] is None
    (warning,) = body["warnings"]
    assert f"scores below the bundle it replaces ({first_bundle})" in warning
    assert "published without the quality gate" in warning
    assert f"POST /admin/models/{first_bundle}/activate" in warning
    assert f"WARNING: {warning}\n" in err
    assert body["serving"]["bundle"] == body["bundle"]  # the newest published one serves
    assert body["serving"]["scenarios"]["for_you"] == (
        "stack: candidates from popularity ×1, ordered by the blend (no feedback ranker yet: "
        "too few logged clicks)"
    )


def test_recommend_explains_each_item(shop: dict[str, Any]) -> None:
    code, out, _ = cli(shop["data"], "recommend", "U0001", "-n", "3")
    assert code == 0
    head, *lines = out.splitlines()
    assert head.startswith("for 'U0001', strategy blend (bundle ")
    assert len(lines) == 6
    for item, reason in zip(lines[::2], lines[1::2], strict=True):
        assert item.split()[1].startswith("P")
        assert reason.startswith("     ") and reason.strip()  # each item's reason


def test_recommend_says_when_trending_stands_in_for_an_unknown_shopper(
    shop: dict[str, Any],
) -> None:
    code, out, _ = cli(shop["data"], "recommend", "NOBODY", "-n", "2")
    assert code == 0
    assert out.startswith("unknown shopper 'NOBODY' (no stored events): trending products instead")
    code, out, _ = cli(shop["data"], "recommend", "NOBODY", "-n", "2", "--json")
    assert json.loads(out)["strategy"] == "trending"


def test_recommend_json_has_the_http_apis_keys(shop: dict[str, Any]) -> None:
    pytest.importorskip("fastapi")
    from shopsense.api.schemas import ItemOut, RecommendationsOut

    code, out, _ = cli(shop["data"], "recommend", "U0001", "-n", "2", "--json")
    assert code == 0
    body = json.loads(out)
    served_only = {"request_id", "experiment"}  # what only a server has
    explained_only = {"attention"}  # with explain=true
    assert set(body) == set(RecommendationsOut.model_fields) - served_only - explained_only
    search_only = {"why"}  # a search result's, with explain=true
    item_keys = set(ItemOut.model_fields) - {"propensity"} - search_only
    assert all(set(item) == item_keys for item in body["items"])
    RecommendationsOut.model_validate({**body, "request_id": "r1"})  # and the API's types
    assert Path(shop["data"], "artifacts", "bundles", body["bundle"]).is_dir()


@pytest.mark.slow
def test_the_item_tower_can_embed_text_with_int8_minilm(tmp_path: Path) -> None:
    """``--text minilm-int8``: the served tower embeds products with the int8 encoder."""
    from shopsense.config import Settings
    from shopsense.store import ArtifactStore

    data = str(tmp_path / "data")
    assert cli(data, "generate", "--products", "60", "--users", "20", "--seed", "5")[0] == 0
    assert cli(data, "ingest", "catalog", f"{data}/sample-shop/catalog.jsonl")[0] == 0
    assert cli(data, "ingest", "events", f"{data}/sample-shop/events.parquet")[0] == 0
    code, out, err = cli(
        data, "train", "--text", "minilm-int8", "--models", "popularity", "--no-gate", "--json"
    )
    assert code == 0, err
    assert isinstance(json.loads(out), dict)
    bundle = ArtifactStore(Settings(data_dir=Path(data)).artifacts_dir).latest()
    assert bundle is not None
    found = list(bundle.path.rglob("item_tower/*.json"))
    assert found and any('"minilm-int8"' in p.read_text() for p in found)


def test_a_training_run_reads_the_event_log_once(
    shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: the log was read three times per run (the stack, then trending and bought
    together each again); the serving helpers now use the events the stack read."""
    from shopsense.store.sql import SqlEventLog

    reads: list[int] = []
    real = SqlEventLog.iter_batches

    def counted(self: SqlEventLog, *args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SqlEventLog, "iter_batches", counted)
    code, _, err = cli(
        shop["data"], "train", "--text", "none", "--models", "popularity", "--no-gate"
    )
    assert code == 0, err
    assert len(reads) == 1


def test_train_tune_searches_each_candidate_on_validation_and_trains_with_it(
    shop: dict[str, Any],
) -> None:
    code, out, err = cli(
        shop["data"], "train", "--text", "none", "--models", "popularity,item_knn",
        "--tune", "3", "--no-gate", "--json",
    )  # fmt: skip
    assert code == 0, err
    stack = json.loads(out)["stack"]
    assert set(stack["tuned"]) == {"popularity", "item_knn"}
    bundle = Path(shop["data"]) / "artifacts" / "bundles" / json.loads(out)["bundle"]
    saved = json.loads((bundle / "stack" / "stack.json").read_text())
    for name, found in stack["tuned"].items():
        assert saved["config"]["params"][name] == found["params"]  # what serves
    assert saved["report"]["retrieval"]["tuned"]["item_knn"]["trials"][0]["number"] == 0
    assert "tuning item_knn on validation (3 per model)" in err
    assert cli(shop["data"], "train", "--tune", "3", "--engine", "spark")[0] == 2
