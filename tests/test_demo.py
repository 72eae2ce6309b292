"""End to end: the demo pipeline on a tiny shop, and the commands a new user runs after it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopsense.cli import main


@pytest.mark.slow
def test_demo_on_a_tiny_shop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    assert (
        main(["--data-dir", data, "demo", "--products", "300", "--users", "80", "--no-serve"]) == 0
    )
    out = capsys.readouterr().out
    assert "The default stack on the sample shop" in out
    assert "validation NDCG@10" in out and "popularity" in out
    assert "Ranker on held-out shoppers' impressions" in out  # the sample shop logs them
    assert "recommended for you (ranker)" in out
    assert "because you" in out

    assert main(["--data-dir", data, "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["products"] == 300
    assert stats["users"] == 80
    assert stats["events"] > 1000

    # Running the demo again over the same data dir stores nothing twice.
    assert (
        main(["--data-dir", data, "demo", "--products", "300", "--users", "80", "--no-serve"]) == 0
    )
    capsys.readouterr()
    assert main(["--data-dir", data, "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == stats

    assert main(["--data-dir", data, "recommend", "U0001", "-n", "3", "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert len(recs["items"]) == 3
    assert all(item["title"] for item in recs["items"])


def test_recommend_before_training_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(tmp_path), "recommend", "U1"]) == 2
    assert "run `shopsense train` first" in capsys.readouterr().err


def test_train_without_events_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(tmp_path), "train"]) == 2
    assert "ingest events first" in capsys.readouterr().err
