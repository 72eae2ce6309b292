"""Several serving processes on one port (``shopsense serve --workers N``).

The parent reserves the port, writes what every worker needs into the environment
(:data:`SPEC_ENV`: settings and serving config as JSON; the API key in
``SHOPSENSE_API_KEY``) and starts the workers (:func:`supervise`). Each worker listens on
a socket of its own bound to the same port with ``SO_REUSEPORT``, so the kernel spreads
connections over them evenly; with one shared listening socket, whichever worker woke first
took most of a burst of new keep-alive connections, and the others stayed idle. A worker
that dies is replaced; one that cannot start stops the server.

Workers keep their own models and histories in memory and follow one another through the
store: events within ``follow_events_s`` (:mod:`shopsense.api.follow`), catalog changes,
deletions and the chosen bundle within ``follow_changes_s`` (``ModelManager.follow``).
Their Prometheus numbers are summed through a directory they share
(:mod:`shopsense.api.metrics`).

Example::

    >>> os.environ[SPEC_ENV] = spec(Settings(), ServeConfig(workers=2), search=False)
    >>> app().title
    'ShopSense'
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

from fastapi import FastAPI

from shopsense.api.app import create_app
from shopsense.api.config import ServeConfig
from shopsense.api.metrics import mark_worker_dead
from shopsense.config import Settings
from shopsense.errors import ConfigError

log = logging.getLogger(__name__)

#: The environment variable that carries a worker's settings.
SPEC_ENV = "SHOPSENSE_WORKER_SPEC"
#: The thread-count variables of the math libraries a worker loads.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: A worker that exits this soon after it started is broken, not unlucky: no restart.
EARLY_EXIT_S = 30.0


def spec(settings: Settings, config: ServeConfig, search: bool = True) -> str:
    """What :func:`app` needs, as one JSON string (the API key travels apart)."""
    return json.dumps(
        {
            "settings": json.loads(settings.model_dump_json()),
            "config": json.loads(config.model_dump_json(exclude={"api_key"})),
            "search": search,
        }
    )


def app() -> FastAPI:
    """The app of one worker, from :data:`SPEC_ENV`."""
    found = json.loads(os.environ[SPEC_ENV])
    settings = Settings.model_validate(found["settings"])
    config = ServeConfig(**found["config"])  # the key from SHOPSENSE_API_KEY
    return create_app(settings, config, search=bool(found["search"]))


def core_share(workers: int) -> int:
    """Threads each worker's math libraries get: its share of the machine's cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(workers, 1))


def listening_socket(host: str, port: int, shared: bool = False) -> socket.socket:
    """A socket bound to ``host:port`` (as uvicorn binds one), or a one-line
    :class:`ConfigError` when the port is taken or the address is not this machine's.
    ``shared``: with ``SO_REUSEPORT``, holding the port for workers that bind it too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        if not hasattr(socket, "SO_REUSEPORT"):
            sock.close()
            raise ConfigError("--workers needs SO_REUSEPORT (Linux, macOS, BSD)")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (is another server "
            "running there? choose another --port)"
        ) from exc
    return sock


def run_worker(host: str, port: int, options: dict[str, Any]) -> None:
    """One worker process: its own socket on the port, uvicorn over :func:`app`. It stops
    (gracefully) when its supervisor is gone, even one killed with SIGKILL: no orphan keeps
    answering on the port."""
    import uvicorn

    threading.Thread(target=_stop_with, args=(os.getppid(),), daemon=True).start()
    sock = listening_socket(host, port, shared=True)
    config = uvicorn.Config("shopsense.api.worker:app", factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def _stop_with(parent: int, every_s: float = 0.5) -> None:
    """Send this process SIGTERM once ``parent`` is no longer its parent (it exited)."""
    while os.getppid() == parent:
        time.sleep(every_s)
    os.kill(os.getpid(), signal.SIGTERM)


def supervise(workers: int, host: str, port: int, options: dict[str, Any]) -> int:
    """Run ``workers`` worker processes until SIGINT or SIGTERM; replace one that dies (its
    live gauges leave the metrics first). Returns 0, or 3 when a worker could not start."""
    # Each worker's math libraries (PyTorch's OpenMP and MKL, OpenBLAS) start a thread per
    # core unless told: N workers then ran N times as many busy threads as cores, taking
    # turns. Measured with 2 workers on 2 cores (serve_load.py --only nocache --workers 2):
    # p99 at 300 req/s 57 and 119 ms without, 25 and 30 ms with. A value already set wins.
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, str(core_share(workers)))
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }

    def start() -> tuple[BaseProcess, float]:
        process = context.Process(target=run_worker, args=(host, port, options))
        process.start()
        return process, time.monotonic()

    running = [start() for _ in range(workers)]
    status = 0
    try:
        while not stop.wait(0.5):
            for i, (process, started) in enumerate(running):
                if process.is_alive():
                    continue
                mark_worker_dead(process.pid or 0)
                if time.monotonic() - started < EARLY_EXIT_S:
                    log.error(
                        "worker %s exited at start (status %s)", process.pid, process.exitcode
                    )
                    status = 3
                    stop.set()
                    break
                log.warning("worker %s died (status %s); starting another",
                            process.pid, process.exitcode)  # fmt: skip
                running[i] = start()
    finally:
        for process, _ in running:
            if process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid or 0, signal.SIGTERM)
        for process, _ in running:
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
