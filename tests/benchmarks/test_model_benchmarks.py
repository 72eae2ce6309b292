"""Smoke runs of the model benchmarks on a small sample shop or a small public dataset, so
the scripts do not rot.

The figures in BENCHMARKS.md come from the full-size runs; these check that each script
runs end to end and writes the results file its documentation promises.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark_helpers import run_benchmark
from shopsense.models import ALS


@pytest.mark.slow
def test_embedding_maps_smoke(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("model2vec")
    out = tmp_path / "maps.json"
    done = run_benchmark(
        "embedding_maps.py",
        *("--products", "150", "--users", "60", "--models", "als,item_tower,popularity"),
        *("--out", str(out)),
        timeout=300,
    )
    assert "popularity   has no item vectors" in done.stdout
    result = json.loads(out.read_text())
    assert set(result["models"]) == {"als", "item_tower"}
    for figures in result["models"].values():
        assert 0.0 <= figures["chance_same_label"] <= figures["neighbour_same_label"] <= 1.0
        assert figures["items_mapped"] > 0


@pytest.mark.slow
def test_recommend_latency_smoke(tmp_path: Path) -> None:
    out = tmp_path / "latency.json"
    run_benchmark(
        "recommend_latency.py",
        *("--dataset", "scientific", "--models", "popularity,als", "--calls", "50"),
        *("--out", str(out)),
        needs_datasets=True,
    )
    result = json.loads(out.read_text())
    assert set(result["models"]) == {"popularity", "als"}
    for row in result["models"].values():
        assert 0.0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]


@pytest.mark.slow
def test_als_fold_in_smoke(tmp_path: Path) -> None:
    out = tmp_path / "fold_in.json"
    run_benchmark(
        "als_fold_in.py", "--datasets", "scientific", "--out", str(out), needs_datasets=True
    )
    result = json.loads(out.read_text())
    (row,) = result["results"]
    # ALS at its own defaults; the served (folded-in) ranking stays close to the trained one
    assert (row["alpha"], row["factors"]) == (ALS().alpha, ALS().factors)
    assert abs(row["folded_in"]["NDCG@10"] - row["trained"]["NDCG@10"]) < 0.01
    assert result["command"].endswith(f"--out {out.name}")


def test_sparse_rows_smoke(tmp_path: Path) -> None:
    out = tmp_path / "sparse_rows.json"
    run_benchmark("sparse_rows.py", "--repeats", "3", "--out", str(out))
    rows = json.loads(out.read_text())["rows"]
    assert {(r["matrix"], r["history"]) for r in rows} == {
        (m, h) for m in ("serving shop", "beauty") for h in (3, 10, 30)
    }
    assert all(r[k] > 0 for r in rows for k in r if k.endswith("_us"))
