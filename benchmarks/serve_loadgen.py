"""A small HTTP/1.1 load generator: many keep-alive connections over loopback, raw asyncio.

Each connection sends a request, reads the whole response (Content-Length framed), records
the latency and status, and sends the next: a closed loop, so throughput is what the
server sustains at that concurrency. Requests are pre-encoded bytes; the generator spends
a few microseconds per request, far less than the server it measures (uvloop when present).

Example::

    >>> mix = RequestMix([(1.0, lambda rng: get("/health"))])
    >>> result = asyncio.run(run_load("127.0.0.1", 8000, mix, 32, 5.0))  # doctest: +SKIP
    >>> result.stats()["p99_ms"]                                        # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

Request = tuple[str, bytes]  # (label, raw request bytes)
Maker = Callable[[random.Random], Request]


def get(path: str, label: str | None = None, headers: dict[str, str] | None = None) -> Request:
    lines = [
        f"GET {path} HTTP/1.1",
        "Host: bench",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return label or path.split("?")[0], ("\r\n".join(lines) + "\r\n\r\n").encode()


def post(path: str, body: bytes, headers: dict[str, str], label: str | None = None) -> Request:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: bench",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return label or path, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class RequestMix:
    """Weighted request makers; ``pick`` draws one request."""

    makers: Sequence[tuple[float, Maker]]

    def pick(self, rng: random.Random) -> Request:
        weights = [w for w, _ in self.makers]
        maker = rng.choices([m for _, m in self.makers], weights)[0]
        return maker(rng)


@dataclass
class LoadResult:
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    #: Failed requests (connection errors, 4xx, 5xx) by label.
    failures: dict[str, int] = field(default_factory=dict)
    #: Response bodies kept by ``keep_bodies`` (e.g. to count acknowledged events).
    bodies: list[tuple[str, bytes]] = field(default_factory=list)
    timeline: list[tuple[float, float]] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def failed(self) -> int:
        return self.errors + sum(n for s, n in self.statuses.items() if s >= 400)

    def stats(self, label: str | None = None) -> dict[str, float]:
        values = (
            [x for v in self.latencies.values() for x in v]
            if label is None
            else self.latencies.get(label, [])
        )
        if not values:
            return {"requests": 0, "rps": 0.0, "p50_ms": float("nan"), "p99_ms": float("nan")}
        arr = np.asarray(values) * 1000
        return {
            "requests": float(len(values)),
            "rps": len(values) / self.seconds,
            "p50_ms": float(np.percentile(arr, 50)),
            "p99_ms": float(np.percentile(arr, 99)),
            "max_ms": float(arr.max()),
        }

    def p99_between(self, start: float, end: float) -> float:
        """p99 (ms) of requests that finished between ``start`` and ``end`` seconds."""
        picked = [lat for t, lat in self.timeline if start <= t < end]
        return float(np.percentile(np.asarray(picked) * 1000, 99)) if picked else float("nan")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
            break
    body = await reader.readexactly(length) if length else b""
    return status, body


async def run_load(
    host: str,
    port: int,
    mix: RequestMix,
    connections: int = 64,
    seconds: float = 10.0,
    seed: int = 0,
    keep_bodies: Callable[[str], bool] | None = None,
    on_tick: Callable[[float], None] | None = None,
    rate: float | None = None,
) -> LoadResult:
    """Drive ``connections`` keep-alive connections for ``seconds``; returns the results.

    Without ``rate`` each connection sends its next request when the last one is answered
    (closed loop: the server's maximum throughput at that concurrency). With ``rate`` the
    requests are scheduled at ``rate`` per second in total (open loop); a latency counts
    from the *scheduled* time, so a server that falls behind is charged for the wait
    (no coordinated omission).
    """
    result = LoadResult(seconds=seconds)
    started = time.perf_counter()
    deadline = started + seconds
    interval = connections / rate if rate else 0.0

    async def connection(index: int) -> None:
        rng = random.Random(seed * 100_003 + index)
        reader, writer = await asyncio.open_connection(host, port)
        scheduled = started + index * interval / connections
        try:
            while time.perf_counter() < deadline:
                label, raw = mix.pick(rng)
                if rate:
                    if scheduled >= deadline:
                        break
                    wait = scheduled - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    sent = scheduled
                    scheduled += interval
                else:
                    sent = time.perf_counter()
                try:
                    writer.write(raw)
                    status, body = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    result.errors += 1
                    result.failures[label] = result.failures.get(label, 0) + 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                done = time.perf_counter()
                result.latencies.setdefault(label, []).append(done - sent)
                result.timeline.append((done - started, done - sent))
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status >= 400:
                    result.failures[label] = result.failures.get(label, 0) + 1
                if keep_bodies is not None and keep_bodies(label):
                    result.bodies.append((label, body))
        finally:
            writer.close()

    async def ticker() -> None:
        while on_tick is not None and time.perf_counter() < deadline:
            await asyncio.sleep(0.25)
            on_tick(time.perf_counter() - started)

    await asyncio.gather(ticker(), *(connection(i) for i in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


def event_loop_policy() -> None:
    """Use uvloop when installed (a faster generator measures the server, not itself)."""
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
