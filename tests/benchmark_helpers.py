"""Running a benchmark script as a user would, for the smoke runs under ``tests/benchmarks``
(a uniquely named helper module)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
#: ``../shared/datasets`` beside the checkout (CI has it; a bare clone skips what needs it).
SHARED_DATASETS = BENCHMARKS.parents[1] / "shared" / "datasets"


def run_benchmark(
    script: str, *args: str, needs_datasets: bool = False, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """``python benchmarks/SCRIPT ARGS`` from the benchmarks folder; fails the test on a
    non-zero exit, with the end of its stderr."""
    if needs_datasets and not SHARED_DATASETS.exists():
        pytest.skip("../shared/datasets is not beside the checkout")
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=BENCHMARKS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def free_port() -> str:
    """A TCP port nothing listens on now, for a benchmark's own server."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return str(free.getsockname()[1])
