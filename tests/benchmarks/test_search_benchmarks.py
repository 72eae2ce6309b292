"""Smoke runs of the search benchmarks: a few hundred products, so the scripts do not rot.

The figures in BENCHMARKS.md come from the full-size runs; these only check that each
script runs end to end and prints every line its documentation promises.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
def test_search_latency_smoke_with_the_static_encoder() -> None:
    pytest.importorskip("model2vec")
    pytest.importorskip("tantivy")
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "search_latency.py"),
            *("--products", "400", "--queries", "30", "--encoder", "static"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=BENCHMARKS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for line in (
        "encoder static alone",
        "indexing (tantivy",
        "re-indexing, embedding store",
        "lexical only",
        "hybrid, query embedding computed",
    ):
        assert line in done.stdout
    rate = float(done.stdout.split("indexing (tantivy + embeddings + usearch):")[1].split()[0])
    assert rate > 0
