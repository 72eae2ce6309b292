"""Request metrics for Prometheus (``prometheus_client``), and the body-size guard.

:class:`ServingMiddleware` is plain ASGI (no per-request task, unlike ``BaseHTTPMiddleware``):
it refuses bodies over the limit with 413 before the app reads them, and records each
request's route, status and latency into :class:`Metrics`.

Several worker processes (``shopsense serve --workers N``) share their numbers through
``prometheus_client``'s multiprocess mode: when ``PROMETHEUS_MULTIPROC_DIR`` names a directory
(set before the worker imports ``prometheus_client``, which picks where values live at import
time), every worker writes its values to files there and ``GET /metrics`` on any worker
reports the totals of all of them (:meth:`Metrics.render`). Without the variable each
:class:`Metrics` keeps its numbers in memory, in a registry of its own.

Example::

    >>> metrics = Metrics()
    >>> metrics.observe("GET", "/health", 200, 0.002)
    >>> print(metrics.render().splitlines()[2])
    shopsense_requests_total{method="GET",route="/health",status="200"} 1.0
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal, TypeVar

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

M = TypeVar("M", Counter, Gauge)
GaugeMode = Literal[
    "all",
    "liveall",
    "min",
    "livemin",
    "max",
    "livemax",
    "sum",
    "livesum",
    "mostrecent",
    "livemostrecent",
]

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
#: The variable that turns multiprocess mode on: a directory shared by every worker, empty
#: when the server starts (``prometheus_client`` reads the same name).
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: How the workers' values of a gauge combine into the one ``GET /metrics`` reports (ignored
#: with one process). ``GET /metrics`` sets these gauges from the state of the worker that
#: answers it, so another worker's value is the one it set when it last answered a scrape.
GAUGE_MODES: dict[str, GaugeMode] = {
    # Every worker follows the same published bundles, so each counts the same swaps: the
    # most any worker has seen is the service's count (a sum would count each swap N times).
    "model_swaps_total": "max",
    # The same catalog seen by every worker: the value the answering worker has just set is
    # the current one (a sum would count each product N times; max would outlive deletions).
    "products": "livemostrecent",
    # Each worker keeps its own shoppers in memory: the total is the sum over live workers (a
    # worker that died has freed its memory).
    "shoppers_in_memory": "livesum",
    # The service has been up as long as its oldest live worker.
    "uptime_seconds": "livemax",
    # Each worker has its own result cache and counts its own hits and misses since it
    # started: the service's totals are the sums, dead workers' included, so they never drop.
    "result_cache_hits": "sum",
    "result_cache_misses": "sum",
}
#: The mode of a gauge that :data:`GAUGE_MODES` does not name: a per-worker quantity.
DEFAULT_GAUGE_MODE: GaugeMode = "livesum"


def multiprocess_dir() -> str | None:
    """The directory the worker processes share their values through, or ``None`` with one
    process (``PROMETHEUS_MULTIPROC_DIR`` unset or empty)."""
    return os.environ.get(MULTIPROC_DIR_ENV) or None


def mark_worker_dead(pid: int, directory: str | os.PathLike[str] | None = None) -> None:
    """Drop the ``live*`` gauges (:data:`GAUGE_MODES`) of the worker ``pid``, which has exited:
    the supervisor calls this when it reaps a worker. Its counters, histograms and other
    gauges stay, so totals never drop. Does nothing outside multiprocess mode."""
    path = os.fspath(directory) if directory is not None else multiprocess_dir()
    if path is not None:
        mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


class Metrics:
    """Counters and latency histograms by (method, route, status); counters and gauges named
    by callers, all ``shopsense_`` prefixed.

    Each instance has a registry of its own, not ``prometheus_client``'s global one: one
    process may run several apps (tests do), each with its own numbers.

    In multiprocess mode (:func:`multiprocess_dir`) the values live in the shared directory,
    one file per process and kind, and :meth:`render` reports every worker's: one instance per
    worker process then (two in one process would share, and overwrite, the same values).
    """

    def __init__(self) -> None:
        self.multiprocess_dir = multiprocess_dir()
        if self.multiprocess_dir is not None and not _values_in_files():
            raise RuntimeError(
                f"{MULTIPROC_DIR_ENV} was set after prometheus_client was imported, so this "
                "process keeps its metrics in memory where other workers cannot see them: set "
                "it before the worker process starts"
            )
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

    def set_gauge(self, name: str, value: float, mode: GaugeMode | None = None) -> None:
        """Set the gauge ``shopsense_{name}``; ``mode`` (on first use, else
        :data:`GAUGE_MODES`) says how several workers' values combine."""
        mode = mode or GAUGE_MODES.get(name, DEFAULT_GAUGE_MODE)
        self._made(self._gauges, Gauge, name, multiprocess_mode=mode).set(value)

    def _made(self, made: dict[str, M], kind: Callable[..., M], name: str, **options: Any) -> M:
        """The metric ``shopsense_{name}`` of ``kind``, registered on first use."""
        metric = made.get(name)
        if metric is None:
            with self._lock:
                metric = made.get(name)
                if metric is None:
                    metric = made[name] = kind(
                        f"shopsense_{name}", _described(name), registry=self.registry, **options
                    )
        return metric

    def render(self) -> str:
        """All metrics in the Prometheus text exposition format (version 0.0.4): this
        instance's, or in multiprocess mode every worker's, combined."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry).decode()
        # A fresh registry on each scrape, holding only the collector that reads (and merges)
        # every process's files: the instance's own registry would add this process's values
        # a second time.
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry).decode()


def _values_in_files() -> bool:
    """Whether ``prometheus_client`` chose, when imported, to keep values in the shared files."""
    return bool(getattr(prometheus_values.ValueClass, "_multiprocess", False))


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
