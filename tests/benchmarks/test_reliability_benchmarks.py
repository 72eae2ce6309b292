"""Smoke runs of the reliability benchmarks on a small file, so the scripts do not rot."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
def test_ingest_while_serving_smoke(tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = str(free.getsockname()[1])
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "ingest_while_serving.py"), "--events", "5000",
         "--port", port, "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=BENCHMARKS, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["store_exact"] and result["api_errors"] == {}
    assert result["api_writes"] >= 1
