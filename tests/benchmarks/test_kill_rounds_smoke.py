"""Smoke run of the kill rounds benchmark (one round of the server and ingest kinds), so the
script does not rot; the figures come from the full run."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
def test_kill_rounds_smoke(tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = str(free.getsockname()[1])
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "kill_rounds.py"), "--only", "server,ingest",
         "--rounds", "1", "--ingest-rows", "20000", "--port", port,
         "--data-dir", str(tmp_path / "data"), "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=BENCHMARKS, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    kinds = json.loads(out.read_text())["kinds"]
    assert set(kinds) == {"server", "ingest"}
    for summary in kinds.values():
        assert summary["rounds"] == 1
        assert summary["acknowledged"] > 0
        assert summary["clean"], summary["details"]
