"""Smoke runs of the reliability benchmarks on small inputs, so the scripts do not rot; the
figures come from the full runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark_helpers import free_port, run_benchmark


@pytest.mark.slow
def test_ingest_while_serving_smoke(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    run_benchmark("ingest_while_serving.py", "--events", "5000", "--port", free_port(),
                  "--out", str(out))  # fmt: skip
    result = json.loads(out.read_text())
    assert result["store_exact"] and result["api_errors"] == {}
    assert result["api_writes"] >= 1


@pytest.mark.slow
def test_kill_rounds_smoke(tmp_path: Path) -> None:
    """One round of the server and ingest kinds."""
    out = tmp_path / "result.json"
    run_benchmark("kill_rounds.py", "--only", "server,ingest", "--rounds", "1",
                  "--ingest-rows", "20000", "--port", free_port(),
                  "--data-dir", str(tmp_path / "data"), "--out", str(out))  # fmt: skip
    kinds = json.loads(out.read_text())["kinds"]
    assert set(kinds) == {"server", "ingest"}
    for summary in kinds.values():
        assert summary["rounds"] == 1
        assert summary["acknowledged"] > 0
        assert summary["clean"], summary["details"]
