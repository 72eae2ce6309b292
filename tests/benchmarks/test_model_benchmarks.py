"""Smoke runs of the model benchmarks on a small sample shop, so the scripts do not rot.

The figures in BENCHMARKS.md come from the full-size runs; these check that each script
runs end to end and writes the results file its documentation promises.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shopsense.models import ALS

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
def test_embedding_maps_smoke(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("model2vec")
    out = tmp_path / "maps.json"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "embedding_maps.py"),
            *("--products", "150", "--users", "60", "--models", "als,item_tower,popularity"),
            *("--out", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=BENCHMARKS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "popularity   has no item vectors" in done.stdout
    result = json.loads(out.read_text())
    assert set(result["models"]) == {"als", "item_tower"}
    for figures in result["models"].values():
        assert 0.0 <= figures["chance_same_label"] <= figures["neighbour_same_label"] <= 1.0
        assert figures["items_mapped"] > 0


SCIENTIFIC = BENCHMARKS.parents[1] / "shared" / "datasets" / "amazon-scientific"


def run_on_scientific(script: str, *args: str) -> None:
    if not SCIENTIFIC.exists():
        pytest.skip("../shared/datasets is not beside the checkout")
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=BENCHMARKS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
def test_recommend_latency_smoke(tmp_path: Path) -> None:
    out = tmp_path / "latency.json"
    run_on_scientific(
        "recommend_latency.py",
        *("--dataset", "scientific", "--models", "popularity,als", "--calls", "50"),
        *("--out", str(out)),
    )
    result = json.loads(out.read_text())
    assert set(result["models"]) == {"popularity", "als"}
    for row in result["models"].values():
        assert 0.0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]


@pytest.mark.slow
def test_als_fold_in_smoke(tmp_path: Path) -> None:
    out = tmp_path / "fold_in.json"
    run_on_scientific("als_fold_in.py", "--datasets", "scientific", "--out", str(out))
    result = json.loads(out.read_text())
    (row,) = result["results"]
    # ALS at its own defaults; the served (folded-in) ranking stays close to the trained one
    assert (row["alpha"], row["factors"]) == (ALS().alpha, ALS().factors)
    assert abs(row["folded_in"]["NDCG@10"] - row["trained"]["NDCG@10"]) < 0.01
    assert result["command"].endswith(f"--out {out.name}")
