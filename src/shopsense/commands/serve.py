"""``shopsense serve``: the HTTP API, storefront and dashboard on one port.

Example::

    $ SHOPSENSE_API_KEY=s3cret shopsense serve --host 0.0.0.0 --port 8000
    serving http://0.0.0.0:8000  (API docs at /docs)
"""

from __future__ import annotations

import argparse
import sys

from shopsense.commands import AddCommand
from shopsense.config import Settings


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    search: bool = True,
    retrain_every_s: float | None = None,
    log_level: str = "warning",
    demo_shoppers: bool | None = None,
) -> int:
    """Run the server until interrupted (checks the bind address against the API key).
    ``demo_shoppers``: ``/?as=SHOPPER`` on the storefront (the sample shop's demo only)."""
    import uvicorn

    from shopsense.api import ServeConfig, create_app
    from shopsense.api.config import check_bind

    config = ServeConfig()
    if retrain_every_s is not None:
        config.retrain_every_s = retrain_every_s
    if demo_shoppers is not None:
        config.demo_shoppers = demo_shoppers
    check_bind(host, config)
    generated = config.api_key is None
    app = create_app(settings, config, search=search)
    url = f"http://{host}:{port}"
    print(f"serving {url}  (storefront {url}/, dashboard {url}/dashboard, docs {url}/docs)")  # noqa: T201
    if generated:
        print(f"API key for this run (or set SHOPSENSE_API_KEY): {config.key()}")  # noqa: T201
    sys.stdout.flush()
    uvicorn.run(
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
    return 0


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
    p = add("serve", cmd_serve, "serve the HTTP API, the storefront and the dashboard")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-search", action="store_true", help="do not build the search index")
    p.add_argument(
        "--retrain-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="retrain in the background this often (env SHOPSENSE_RETRAIN_EVERY_S)",
    )
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    p.add_argument(
        "--demo-shoppers",
        action="store_true",
        help="let the storefront browse as any shopper with /?as=ID (demo data only; env "
        "SHOPSENSE_DEMO_SHOPPERS)",
    )
