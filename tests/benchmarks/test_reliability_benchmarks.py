"""Smoke runs of the reliability benchmarks on small inputs, so the scripts do not rot; the
figures come from the full runs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def free_port() -> str:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return str(free.getsockname()[1])


def run_benchmark(script: str, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True, text=True, timeout=600, cwd=BENCHMARKS, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


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
