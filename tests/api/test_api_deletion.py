"""Deletion that sticks (issue 12, item 2): after a shopper is deleted, no restart, no
other process and no bundle load brings their learned state back."""

from __future__ import annotations

from typing import Any

import numpy as np
from api_helpers import API_KEY, HEADERS
from fastapi.testclient import TestClient

from shopsense.api import ServeConfig, create_app
from shopsense.config import Settings
from shopsense.demo import recommendations_for
from shopsense.store import open_store


def factor_rows(client: TestClient, user: str) -> list[Any]:
    """The shopper's rows of learned user factors in the serving models."""
    state = client.app.state.serving  # type: ignore[attr-defined]
    rows = []
    for model in state.engine().models.models.values():
        factors = getattr(model, "user_factors_", np.empty(0))
        index = model.users_.get(user) if model.fitted else None
        if factors.size and index is not None:
            rows.append(factors[index])
    return rows


def trained_shopper(client: TestClient) -> str:
    state = client.app.state.serving  # type: ignore[attr-defined]
    for model in state.engine().models.models.values():
        if getattr(model, "user_factors_", np.empty(0)).size:
            return str(model.users_.id(3))
    raise AssertionError("no model with user factors")


def serve(settings: Settings, **config: Any) -> TestClient:
    return TestClient(create_app(settings, ServeConfig(api_key=API_KEY, **config), search=False))


def test_a_deletion_survives_a_restart_and_the_cli(shop_copy: Settings) -> None:
    """Regression: after DELETE /users/U0042 a plain restart brought the shopper's learned
    factors back (the forgotten list was in memory only), and `shopsense recommend` still
    answered from the saved model."""
    with serve(shop_copy, follow_changes_s=0) as client:
        user = trained_shopper(client)
        assert any(np.abs(row).sum() > 0 for row in factor_rows(client, user))
        before = recommendations_for(shop_copy, user, 5)
        assert client.delete(f"/users/{user}", headers=HEADERS).status_code == 200
    with serve(shop_copy, follow_changes_s=0) as restarted:
        rows = factor_rows(restarted, user)
        assert rows and all(np.abs(row).sum() == 0 for row in rows)
    after = recommendations_for(shop_copy, user, 5)
    assert after != before  # the CLI answers as for a new shopper, not from saved factors
    store = open_store(shop_copy)
    assert store.events.digest(user) in store.events.forgotten()
    assert all(user not in d for d in store.events.forgotten())  # a hash, not the id


def test_a_deletion_by_another_process_reaches_a_running_server(shop_copy: Settings) -> None:
    """Regression: `shopsense delete-user` on a running server changed nothing it served."""
    with serve(shop_copy, follow_changes_s=0) as client:
        state = client.app.state.serving  # type: ignore[attr-defined]
        user = str(
            next(
                m.users_.id(7)
                for m in state.engine().models.models.values()
                if getattr(m, "user_factors_", np.empty(0)).size
            )
        )
        client.get(f"/recommendations/{user}")  # the shopper's history is now in memory
        assert state.history(user)
        other = open_store(shop_copy)  # what `shopsense delete-user` does
        other.events.delete_user(user)
        other.close()
        assert state.follow_deletions() == 1
        assert all(np.abs(row).sum() == 0 for row in factor_rows(client, user))
        assert state.history(user) == []  # read again from the store: nothing
        assert state.follow_deletions() == 0
