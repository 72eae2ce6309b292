"""``/docs``: the interactive API reference, served from this machine.

FastAPI's default page loads Swagger UI from a CDN, so it is blank on an air-gapped install.
Here the page is FastAPI's own, with Swagger UI's files from the ``swagger-ui-bundle``
package (Apache-2.0) mounted under ``/docs/assets``. The schema declares the ``X-API-Key``
scheme, so "Authorize" sends the key with every write tried from the page.

Example::

    >>> docs.install(app)   # doctest: +SKIP
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"


def install(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets (``app.openapi_url`` is the schema it shows)."""
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )
