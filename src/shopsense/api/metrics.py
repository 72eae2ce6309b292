"""Request metrics for Prometheus (``prometheus_client``), and the body-size guard.

:class:`ServingMiddleware` is plain ASGI (no per-request task, unlike ``BaseHTTPMiddleware``):
it refuses bodies over the limit with 413 before the app reads them, and records each
request's route, status and latency into :class:`Metrics`.

Example::

    >>> metrics = Metrics()
    >>> metrics.observe("GET", "/health", 200, 0.002)
    >>> print(metrics.render().splitlines()[2])
    shopsense_requests_total{method="GET",route="/health",status="200"} 1.0
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeVar

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

M = TypeVar("M", Counter, Gauge)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Latency histogram buckets in seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: What ``GET /metrics`` answers with: the Prometheus text format that :meth:`Metrics.render`
#: writes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Counters and latency histograms by (method, route, status); counters and gauges named
    by callers, all ``shopsense_`` prefixed.

    Each instance has a registry of its own, not ``prometheus_client``'s global one: one
    process may run several apps (tests do), each with its own numbers.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "shopsense_requests_total",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "shopsense_request_seconds",
            "Request latency.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._lock = threading.Lock()
        self._counters: dict[str, Counter] = {}
        self._gauges: dict[str, Gauge] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self._requests.labels(method, route, str(status)).inc()
        self._latency.labels(method, route).observe(seconds)

    def count(self, name: str, value: int = 1) -> None:
        """Add ``value`` to the counter ``shopsense_{name}`` (``name`` ends in ``_total``)."""
        self._made(self._counters, Counter, name).inc(value)

    def set_gauge(self, name: str, value: float) -> None:
        """Set the gauge ``shopsense_{name}``."""
        self._made(self._gauges, Gauge, name).set(value)

    def _made(self, made: dict[str, M], kind: Callable[..., M], name: str) -> M:
        """The metric ``shopsense_{name}`` of ``kind``, registered on first use."""
        metric = made.get(name)
        if metric is None:
            with self._lock:
                metric = made.get(name)
                if metric is None:
                    metric = made[name] = kind(
                        f"shopsense_{name}", _described(name), registry=self.registry
                    )
        return metric

    def render(self) -> str:
        """All metrics in the Prometheus text exposition format (version 0.0.4)."""
        return generate_latest(self.registry).decode()


def _described(name: str) -> str:
    """The HELP line of a metric named by a caller: its name in words."""
    words = name.removesuffix("_total").replace("_", " ")
    return words[:1].upper() + words[1:] + "."


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = orjson.dumps(payload)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ServingMiddleware:
    """Body-size limit (413), NUL characters in the path or query refused (422) and
    per-route metrics, as one ASGI layer."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        limit = self.max_body_bytes
        too_large = {
            "error": f"request body is larger than {limit} bytes; send smaller batches",
            "field": "body",
        }
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await _send_json(send, 400, {"error": "invalid Content-Length", "field": "body"})
            self.metrics.observe(scope["method"], "(bad request)", 400, 0.0)
            return
        if declared is not None and int(declared) > limit:
            await _send_json(send, 413, too_large)
            self.metrics.observe(scope["method"], "(body too large)", 413, 0.0)
            return
        query = bytes(scope.get("query_string") or b"").lower()
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            # No id, query or filter contains NUL (the stores' rule, docs/limits.md).
            where = "path" if "\x00" in scope["path"] else "query"
            refused = {"error": f"the {where} must not contain NUL characters", "field": where}
            await _send_json(send, 422, refused)
            self.metrics.observe(scope["method"], "(bad request)", 422, 0.0)
            return
        received = 0
        exceeded = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLargeError
            return message

        async def recording_send(message: Message) -> None:
            nonlocal status, replaced
            if exceeded:
                # The app turned the aborted read into its own error: answer 413 instead.
                if not replaced:
                    replaced = True
                    status = 413
                    await _send_json(send, 413, too_large)
                return
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, limited_receive, recording_send)
        except _BodyTooLargeError:
            if not replaced:
                status = 413
                await _send_json(send, 413, too_large)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", None) or "(unmatched)"
            self.metrics.observe(scope["method"], name, status, time.perf_counter() - started)


class _BodyTooLargeError(Exception):
    """A streamed body passed the limit (no Content-Length to refuse it up front)."""
