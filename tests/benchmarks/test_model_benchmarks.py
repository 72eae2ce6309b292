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
