"""Fixtures of the ranking tests (the shop itself is in :mod:`feedback_world`)."""

from __future__ import annotations

from typing import Any

import pytest
from feedback_world import feedback_events


@pytest.fixture(scope="session")
def feedback_log() -> list[dict[str, Any]]:
    return feedback_events()
