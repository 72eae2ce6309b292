"""Constants and helpers shared by the API tests (a uniquely named module: every test folder
has a ``conftest``, so importing from ``conftest`` would pick whichever loaded first)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

from shopsense.config import Settings
from shopsense.demo import run_demo

API_KEY = "test-key"
HEADERS = {"X-API-Key": API_KEY}


def build_shop(directory: Path, products: int = 300, users: int = 100) -> Settings:
    """Generate, ingest and train the sample shop into ``directory`` (quietly)."""
    settings = Settings(data_dir=directory)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert run_demo(settings, n_products=products, n_users=users, seed=3)
    return settings


def _started(app: Any) -> Any:
    """``app`` for a caller that would start its lifespan again: lifespan messages are
    answered here (the app is already started), requests go through."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            kind = message["type"].removeprefix("lifespan.")
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return

    return asgi


def fuzz_operations(
    client: Any,
    skip: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
    only: set[tuple[str, str]] | None = None,
    examples: int = 20,
) -> tuple[int, list[str]]:
    """Schemathesis over the app's OpenAPI spec, every operation (``(METHOD, path)``) but
    ``skip`` (or ``only`` those), ``examples`` generated requests each, with the key:
    how many operations ran and each one's failures."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    # Schemathesis runs an ASGI app's lifespan itself; the client's has already run, and a
    # second one would open a second server state over the same data (its search index
    # still building: 503s) and replace the one the test inspects.
    schema = schemathesis.openapi.from_asgi("/openapi.json", _started(client.app))
    failures: list[str] = []
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if key in skip or (only is not None and key not in only):
            continue

        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(headers=HEADERS)
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # collected: every operation runs
            # a group (hypothesis' "flaky": failed once, passed when replayed) says what
            # failed only in its members
            inner = getattr(exc, "exceptions", ())
            detail = "".join(f"\n  - {type(e).__name__}: {e}" for e in inner)
            failures.append(f"{key[0]} {key[1]}: {exc}{detail}"[:4000])
        ran += 1
    return ran, failures
