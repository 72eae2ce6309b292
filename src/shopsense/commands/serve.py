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
import socket
import sys

from shopsense import progress
from shopsense.commands import AddCommand, examples
from shopsense.config import Settings
from shopsense.errors import ConfigError


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (as uvicorn binds one), or a one-line
    :class:`ConfigError` when the port is taken or the address is not this machine's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (is another server "
            "running there? choose another --port)"
        ) from exc
    return sock


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    search: bool = True,
    retrain_every_s: float | None = None,
    log_level: str = "warning",
    demo_shoppers: bool | None = None,
    announce: str = "",
) -> int:
    """Run the server until interrupted (checks the bind address against the API key).
    ``demo_shoppers``: ``/?as=SHOPPER`` on the storefront (the sample shop's demo only).
    The port is bound before anything is announced: a taken port is a one-line error.
    ``announce``: a line printed after the address (the demo's storefront link)."""
    import uvicorn

    from shopsense.api import ServeConfig, create_app
    from shopsense.api.config import check_bind

    config = ServeConfig()
    if retrain_every_s is not None:
        config.retrain_every_s = retrain_every_s
    if demo_shoppers is not None:
        config.demo_shoppers = demo_shoppers
    check_bind(host, config)
    sock = listening_socket(host, port)
    try:
        generated = config.api_key is None
        app = create_app(settings, config, search=search)
        url = f"http://{host}:{port}"
        lines = [f"serving {url}  (storefront {url}/, dashboard {url}/dashboard, docs {url}/docs)"]
        if generated:
            lines.append(f"API key for this run (or set SHOPSENSE_API_KEY): {config.key()}")
        if announce:
            lines.append(announce)
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level=log_level,
                access_log=False,
                loop="uvloop",
                http="httptools",
                backlog=4096,
                timeout_graceful_shutdown=5,
            )
        )
        # Requests (and the retraining they start) run in copies of this context: the
        # server's own work shows no progress bars on its terminal.
        with progress.reporting(None), contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        sock.close()
    return 0 if server.started else 3


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    return serve(
        settings,
        host=args.host,
        port=args.port,
        search=not args.no_search,
        retrain_every_s=args.retrain_every,
        log_level=args.log_level,
        demo_shoppers=True if args.demo_shoppers else None,
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
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument("--no-search", action="store_true", help="do not build the search index")
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
