"""A real server over a trained sample shop, and Debian's Chromium driven by Playwright.

Outside CI the tests skip, with the reason, when Chromium or Playwright is missing; in CI
(``SHOPSENSE_REQUIRE_BROWSER=1``, set by ``.ci/run``) a missing browser is a failure.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_helpers import Shop

from shopsense.config import Settings
from shopsense.demo import run_demo

CHROMIUM = os.environ.get("SHOPSENSE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[browser]')"
    return None


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    reason = _missing()
    if reason:
        if os.environ.get("SHOPSENSE_REQUIRE_BROWSER"):
            pytest.fail(f"browser tests are required here: {reason}")
        pytest.skip(reason)
    settings = Settings(data_dir=tmp_path_factory.mktemp("browser-shop"))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert run_demo(settings, n_products=300, n_users=100, seed=5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {
        "SHOPSENSE_API_KEY": "browser-key",
        "OPENBLAS_NUM_THREADS": "1",
        "SHOPSENSE_DEMO_SHOPPERS": "true",  # the tests browse as chosen shoppers (?as=)
    }
    code = "from shopsense.cli import main; raise SystemExit(main())"
    args = ["--data-dir", str(settings.data_dir), "serve", "--port", str(port)]
    server = subprocess.Popen([sys.executable, "-c", code, *args], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).json()["search"] in ("ready", "failed"):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.3)
        yield Shop(url, settings)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def browser(shop: Shop) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where browser tests save screenshots: ``$SHOPSENSE_SCREENSHOTS``, else
    ``build/screenshots`` in the checkout (ignored by git)."""
    default = Path(__file__).resolve().parents[2] / "build" / "screenshots"
    directory = Path(os.environ.get("SHOPSENSE_SCREENSHOTS") or default)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture()
def page(browser: Any, shop: Shop) -> Iterator[Any]:
    context = browser.new_context(base_url=shop.url)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()
