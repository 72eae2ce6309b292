"""What the browser tests share (a uniquely named module, unlike ``conftest``)."""

from __future__ import annotations

from dataclasses import dataclass

from shopsense.config import Settings


@dataclass(frozen=True)
class Shop:
    """A running server (``url``) over a trained shop (``settings``)."""

    url: str
    settings: Settings
