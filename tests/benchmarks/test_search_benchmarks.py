"""Smoke runs of the search benchmarks: a few hundred products, so the scripts do not rot.

The figures in BENCHMARKS.md come from the full-size runs; these only check that each
script runs end to end and prints every line its documentation promises.
"""

from __future__ import annotations

import pytest

from benchmark_helpers import run_benchmark


@pytest.mark.slow
def test_search_latency_smoke_with_the_static_encoder() -> None:
    pytest.importorskip("model2vec")
    pytest.importorskip("tantivy")
    arguments = ("--products", "400", "--queries", "30", "--encoder", "static")
    done = run_benchmark("search_latency.py", *arguments, timeout=300)
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
