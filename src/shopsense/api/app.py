"""The FastAPI application factory.

Example::

    >>> from shopsense.api import create_app
    >>> from shopsense.api.config import ServeConfig
    >>> app = create_app(Settings(), ServeConfig(api_key="k"))  # doctest: +SKIP
    >>> # uvicorn.run(app, host="127.0.0.1", port=8000)

The server state opens when the app starts (the ``lifespan``): the store, the catalog in
memory, the newest published bundle; search builds in the background.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopsense import __version__
from shopsense.api import admin, docs, errors, routes
from shopsense.api.config import ServeConfig
from shopsense.api.heap import settle_heap
from shopsense.api.metrics import Metrics, ServingMiddleware, mark_worker_dead
from shopsense.api.state import ServingState
from shopsense.config import Settings

log = logging.getLogger(__name__)
HERE = Path(__file__).parent


def create_app(
    settings: Settings,
    config: ServeConfig | None = None,
    *,
    search: bool = True,
    storefront: bool = True,
) -> FastAPI:
    """The API (and, with ``storefront``, the shop pages and dashboard) over ``settings``.

    ``search=False`` skips building the search index (tests, pure recommendation serving).
    """
    config = config or ServeConfig()
    config.key()  # a random key now when none is configured
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = ServingState.open(settings, config, search=search)
        state.metrics = metrics
        app.state.serving = state
        state.models.start_schedule()
        settle_heap()
        try:
            yield
        finally:
            state.close()
            mark_worker_dead(os.getpid())  # its live gauges leave the workers' totals

    app = FastAPI(
        title="ShopSense",
        version=__version__,
        description="Self-hosted search and recommendations for online shops.",
        lifespan=lifespan,
        # Our own Prometheus metrics cover requests; FastAPI's OpenTelemetry hooks look up
        # providers on every request, which costs more than a recommendation.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # FastAPI's pages load Swagger UI / ReDoc from a CDN: blank offline. Ours is served
        # from the swagger-ui-bundle package (``docs.py``).
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    docs.install(app)
    app.include_router(routes.router)
    app.include_router(admin.router)
    if storefront:
        from shopsense.api import dashboard, shop_cart, shop_search
        from shopsense.api import storefront as shop

        app.include_router(shop.router)
        app.include_router(shop_search.router)
        app.include_router(shop_cart.router)
        app.add_exception_handler(shop.ShopRefusedError, shop.refused)
        app.include_router(dashboard.router)
        app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(
        ServingMiddleware,
        metrics=metrics,
        max_body_bytes=config.max_body_bytes,
    )
    if config.workers > 1:
        app.add_middleware(WorkerHeader)
    return app


class WorkerHeader:
    """Names the worker process that answered (``X-ShopSense-Worker``: its pid), with
    several workers: which one served a slow or odd answer shows in the client's logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.header = (b"x-shopsense-worker", str(os.getpid()).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, named)
