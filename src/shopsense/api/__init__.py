"""The HTTP API, storefront and dashboard (FastAPI).

Example::

    >>> from shopsense.api import create_app
    >>> app = create_app(Settings(), ServeConfig(api_key="k"))  # doctest: +SKIP
"""

from __future__ import annotations

from shopsense.api.app import create_app
from shopsense.api.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]
