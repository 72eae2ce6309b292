"""``shopsense serve``: the HTTP API, storefront and dashboard on one port.

Example::

    $ SHOPSENSE_API_KEY=s3cret shopsense serve --host 0.0.0.0 --port 8000
    serving http://0.0.0.0:8000  (storefront http://0.0.0.0:8000/, dashboard ...)

The port is bound before that line is printed: a port another server holds is a one-line
error (exit status 2), not a line that says it serves followed by uvicorn's complaint.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from shopsense import progress
from shopsense.commands import AddCommand, examples
from shopsense.config import Settings

if TYPE_CHECKING:
    from shopsense.api import ServeConfig


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    search: bool = True,
    retrain_every_s: float | None = None,
    log_level: str = "warning",
    demo_shoppers: bool | None = None,
    announce: str = "",
    workers: int | None = None,
) -> int:
    """Run the server until interrupted (checks the bind address against the API key).
    ``demo_shoppers``: ``/?as=SHOPPER`` on the storefront (the sample shop's demo only).
    The port is bound before anything is announced: a taken port is a one-line error.
    ``announce``: a line printed after the address (the demo's storefront link).
    ``workers``: serving processes on the one port (default ``SHOPSENSE_WORKERS``, 1)."""
    import uvicorn

    from shopsense.api import ServeConfig, create_app
    from shopsense.api.config import check_bind
    from shopsense.api.worker import listening_socket

    config = ServeConfig()
    if retrain_every_s is not None:
        config.retrain_every_s = retrain_every_s
    if demo_shoppers is not None:
        config.demo_shoppers = demo_shoppers
    if workers is not None:
        config.workers = workers
    check_bind(host, config)
    # With workers, this socket only holds the port (never listens): each worker listens on
    # its own, and the kernel spreads connections over them.
    sock = listening_socket(host, port, shared=config.workers > 1)
    try:
        generated = config.api_key is None
        key = config.key()
        url = f"http://{host}:{port}"
        lines = [f"serving {url}  (storefront {url}/, dashboard {url}/dashboard, docs {url}/docs)"]
        if generated:
            lines.append(f"API key for this run (or set SHOPSENSE_API_KEY): {key}")
        if config.workers > 1:
            lines.append(f"{config.workers} worker processes")
        if announce:
            lines.append(announce)
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        options: dict[str, Any] = {
            "host": host,
            "port": port,
            "log_level": log_level,
            "access_log": False,
            "loop": "uvloop",
            "http": "httptools",
            "backlog": 4096,
            "timeout_graceful_shutdown": 5,
        }
        if config.workers > 1:
            return _serve_workers(settings, config, search, options)
        app = create_app(settings, config, search=search)
        server = uvicorn.Server(uvicorn.Config(app, **options))
        # Requests (and the retraining they start) run in copies of this context: the
        # server's own work shows no progress bars on its terminal.
        with progress.reporting(None), contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        sock.close()
    return 0 if server.started else 3


def _serve_workers(
    settings: Settings, config: ServeConfig, search: bool, options: dict[str, Any]
) -> int:
    """Run ``config.workers`` processes on the port (:func:`shopsense.api.worker.supervise`),
    their Prometheus numbers summed through a fresh directory of their own."""
    from shopsense.api.worker import SPEC_ENV, spec, supervise

    metrics_dir = tempfile.mkdtemp(prefix="shopsense-metrics-")
    os.environ[SPEC_ENV] = spec(settings, config, search)
    os.environ["SHOPSENSE_API_KEY"] = config.key()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        host, port = options.pop("host"), options.pop("port")
        return supervise(config.workers, host, port, options)
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    return serve(
        settings,
        host=args.host,
        port=args.port,
        search=not args.no_search,
        retrain_every_s=args.retrain_every,
        log_level=args.log_level,
        demo_shoppers=True if args.demo_shoppers else None,
        workers=args.workers,
    )


def register(add: AddCommand) -> None:
    """Add ``shopsense serve``."""
    p = add(
        "serve",
        cmd_serve,
        "serve the HTTP API, the storefront and the dashboard",
        examples(
            "shopsense serve",
            "SHOPSENSE_API_KEY=s3cret shopsense serve --host 0.0.0.0 --port 8000",
            "shopsense serve --no-search --retrain-every 3600",
            "shopsense serve --workers 2",
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument("--no-search", action="store_true", help="do not build the search index")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="serving processes on the port, each with its own models in memory, following "
        "one another's events through the store (default 1, or env SHOPSENSE_WORKERS)",
    )
    p.add_argument(
        "--retrain-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="retrain in the background this often (default: never, or env "
        "SHOPSENSE_RETRAIN_EVERY_S)",
    )
    p.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="the server's log level",
    )
    p.add_argument(
        "--demo-shoppers",
        action="store_true",
        help="let the storefront browse as any shopper with /?as=ID (demo data only; env "
        "SHOPSENSE_DEMO_SHOPPERS)",
    )
