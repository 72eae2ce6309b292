"""API keys: write and admin endpoints need ``X-API-Key``; reads need it when configured.

Example::

    >>> from fastapi import Depends
    >>> @app.post("/events", dependencies=[Depends(require_key)])   # doctest: +SKIP
    ... def post_events(...): ...
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from shopsense.api.shoppers import ADMIN
from shopsense.api.state import ServingState

HEADER = "X-API-Key"
#: The key as an OpenAPI security scheme (``/docs`` can then send it).
API_KEY = APIKeyHeader(name=HEADER, auto_error=False, description="SHOPSENSE_API_KEY")


def state_of(request: Request) -> ServingState:
    state: ServingState = request.app.state.serving
    return state


def key_matches(request: Request, sent: str) -> bool:
    """Whether ``sent`` is the server's API key (constant-time)."""
    return hmac.compare_digest(sent.encode(), state_of(request).config.key().encode())


def _check(request: Request) -> None:
    sent = request.headers.get(HEADER)
    if sent is None:
        raise HTTPException(401, f"missing {HEADER} header", {"WWW-Authenticate": HEADER})
    if not key_matches(request, sent):
        raise HTTPException(401, f"wrong {HEADER}", {"WWW-Authenticate": HEADER})


async def require_key(request: Request, _key: str | None = Security(API_KEY)) -> None:
    """Dependency of write and admin endpoints (async: no thread hop per request)."""
    _check(request)


def is_operator(request: Request) -> bool:
    """The API key in ``X-API-Key``, or the signed cookie ``/dashboard/login`` sets."""
    sent = request.headers.get(HEADER)
    if sent is not None:
        return key_matches(request, sent)
    return state_of(request).shoppers.admin_ok(request.cookies.get(ADMIN))


def operator_may_act(request: Request, token: str | None) -> bool:
    """Whether a dashboard action (a form POST, e.g. a rollback) may run: the API key in
    ``X-API-Key`` (no browser sends that header cross-site), or the operator's cookie with
    the CSRF token the dashboard page carries, which is bound to that cookie."""
    sent = request.headers.get(HEADER)
    if sent is not None:
        return key_matches(request, sent)
    return state_of(request).shoppers.operator_token_ok(request.cookies.get(ADMIN), token)


async def operator_access(request: Request, _key: str | None = Security(API_KEY)) -> None:
    """Dependency of operator reads (``/admin/stats``): the key or the operator's cookie."""
    if not is_operator(request):
        raise HTTPException(
            401, f"missing or wrong {HEADER} (or log in at /dashboard/login)",
            {"WWW-Authenticate": HEADER},
        )  # fmt: skip


async def read_access(request: Request) -> None:
    """Dependency of read endpoints: open unless ``SHOPSENSE_PUBLIC_READS=false``."""
    if not state_of(request).config.public_reads:
        _check(request)
