"""Error answers: bad input is a 4xx whose body names the field, never a 500.

| cause | status |
|---|---|
| body or parameter fails validation (pydantic, :class:`~shopsense.errors.ValidationError`) | 422 |
| malformed JSON | 422 (``field: "body"``) |
| a NUL character in the path or query string | 422 (``field: "path"`` / ``"query"``) |
| missing / wrong API key | 401 |
| body over the size limit | 413 (:mod:`shopsense.api.metrics`) |
| unknown product in a path | 404 |
| no models yet, search still building | 503 |
| a published bundle that cannot be loaded (what served keeps serving) | 503 |

Example::

    >>> field_name(("body", "events", 3, "timestamp"))
    'events[3].timestamp'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from shopsense.api.lifecycle import BundleLoadError
from shopsense.api.search import SearchUnavailableError
from shopsense.api.state import NoModelsError
from shopsense.errors import ConfigError, ModelError, ShopSenseError, StoreError, ValidationError

log = logging.getLogger(__name__)


def field_name(location: Sequence[Any]) -> str:
    """``("body", "events", 3, "ts")`` -> ``"events[3].ts"``; ``("query", "n")`` -> ``"n"``."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie") and len(parts) > 1:
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def error_response(
    status: int, message: str, field: str | None = None, errors: list[dict[str, Any]] | None = None
) -> Response:
    body = {"error": message, "field": field, "errors": errors or []}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors()[:20]:
        name = field_name(error.get("loc", ()))
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            name, message = "body", f"malformed JSON: {error.get('ctx', {}).get('error', message)}"
        errors.append({"field": name, "message": message})
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    more = f" ({len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return error_response(
        422, f"field '{first['field']}': {first['message']}{more}", first["field"], errors
    )


async def _shopsense(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ValidationError):
        return error_response(422, f"field '{exc.field}': {exc.reason}", exc.field)
    if isinstance(exc, NoModelsError | SearchUnavailableError):
        return error_response(503, str(exc))
    if isinstance(exc, ConfigError):
        return error_response(422, str(exc))
    if isinstance(exc, BundleLoadError):
        return error_response(503, str(exc))
    if isinstance(exc, ModelError):
        return error_response(404, str(exc))
    if isinstance(exc, StoreError):
        log.error("store error on %s: %r", request.url.path, exc.__cause__ or exc)
        response = error_response(503, f"the store is unavailable, nothing was written: {exc}")
        response.headers["Retry-After"] = "1"
        return response
    return error_response(400, str(exc))


def _unparsable_body(exc: HTTPException) -> str | None:
    """Why FastAPI could not parse a JSON body (it answers a bare 400 for anything but a
    syntax error), or ``None`` when ``exc`` is another error."""
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None:
        return None
    if isinstance(cause, UnicodeDecodeError):
        return "malformed JSON: the body is not UTF-8"
    if isinstance(cause, RecursionError):
        return "malformed JSON: nested too deeply"
    if isinstance(cause, ValueError):
        return f"malformed JSON: {cause}"[:300]
    return None


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    unparsable = _unparsable_body(exc)
    if unparsable is not None:  # the documented shape: 422 naming the body
        return error_response(422, f"field 'body': {unparsable}", "body")
    response = error_response(exc.status_code, str(exc.detail))
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ShopSenseError, _shopsense)
    app.add_exception_handler(HTTPException, _http)
