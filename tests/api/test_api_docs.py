"""``/docs`` works offline: every script and stylesheet it loads is served by this app."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_docs_load_nothing_from_outside(client: TestClient) -> None:
    """Regression (issue 15): FastAPI's /docs loaded Swagger UI from a CDN: a blank page on
    an air-gapped install."""
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    sources += re.findall(r"url: '([^']+)'", page.text)
    assert sources, page.text
    for source in sources:
        assert source.startswith("/"), f"{source} is not served by this app"
        assert client.get(source).status_code == 200, source
    assert "swagger-ui-bundle.js" in page.text
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN too
    schema = client.get("/openapi.json").json()
    assert "X-API-Key" in str(schema["components"]["securitySchemes"])
