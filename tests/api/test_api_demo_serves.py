"""``shopsense demo`` ends by serving the storefront and printing its URL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

SCRIPT = """
import sys
from shopsense.cli import main
demo = ["demo", "--products", "200", "--users", "60", "--port", sys.argv[2]]
raise SystemExit(main(["--data-dir", sys.argv[1], *demo]))
"""


@pytest.mark.slow
def test_demo_ends_by_serving_the_storefront(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {"OPENBLAS_NUM_THREADS": "1"}
    env.pop("SHOPSENSE_API_KEY", None)
    demo = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert demo.stdout is not None
        lines = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            lines.append(line)
            if line.startswith("serving http://"):
                break
        assert f"serving http://127.0.0.1:{port}" in lines[-1], "".join(lines)
        assert any("The default stack on the sample shop" in line for line in lines)
        while time.monotonic() < deadline:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert page.status_code == 200 and "Trending now" in page.text
    finally:
        demo.terminate()
        demo.wait(timeout=30)
