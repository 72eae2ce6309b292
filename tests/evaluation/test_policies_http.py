"""``HttpPolicy`` against the real FastAPI app, in-process (the ``simulate --url`` path)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from shopsense.api import ServeConfig, create_app
from shopsense.config import Settings
from shopsense.demo import run_demo
from shopsense.domain import EventKind
from shopsense.errors import ConfigError
from shopsense.evaluation.policies import HttpPolicy, SimulationWorld
from shopsense.evaluation.simulator import ShopSimulator, SimulationConfig
from shopsense.synth import ShopConfig, generate_shop

KEY = "sim-key"
PRODUCTS, USERS, SEED = 150, 40, 3


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("http-shop")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert run_demo(Settings(data_dir=directory), PRODUCTS, USERS, SEED) == 0
    return directory


@pytest.fixture(scope="module")
def client(shop_dir: Path) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=shop_dir), ServeConfig(api_key=KEY), search=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def world() -> SimulationWorld:
    # the same shop `run_demo` ingested: same sizes and seed
    shop = generate_shop(ShopConfig(n_products=PRODUCTS, n_users=USERS, seed=SEED))
    return SimulationWorld.from_shop(shop)


def _stored(client: TestClient) -> int:
    store: Any = client.app.state.serving.store  # type: ignore[attr-defined]
    return int(store.events.count())


def test_simulation_through_the_api(client: TestClient, world: SimulationWorld) -> None:
    sim = ShopSimulator(world.truth, world.table, world.states, SimulationConfig(sessions=30))
    policy = HttpPolicy("", world.table.item_ids, KEY, client=client)
    before = _stored(client)
    result = sim.run(policy)
    assert result.impressions.sum() > 0
    # over-fetching fills every list although the server only knows recent history
    assert np.all(result.impressions % 10 == 0)
    # every simulated event reached the store, attributed to the server's request ids
    posted = _stored(client) - before
    assert posted >= result.impressions.sum() + result.clicks.sum()
    store: Any = client.app.state.serving.store  # type: ignore[attr-defined]
    history = store.events.user_history(result.user_ids[0])
    mine = [e for e in history if e.event_id.startswith(policy.run_id)]
    assert mine and all(not e.request_id.startswith("sim-") for e in mine)
    assert {e.kind for e in mine} >= {EventKind.IMPRESSION}


def test_a_second_run_is_not_dropped_as_duplicates(
    client: TestClient, world: SimulationWorld
) -> None:
    """Regression: the simulator's event ids repeat run to run; the server drops repeated
    ids, so a second simulation silently did not reach the server."""
    sim = ShopSimulator(world.truth, world.table, world.states, SimulationConfig(sessions=10))
    sim.run(HttpPolicy("", world.table.item_ids, KEY, client=client))
    before = _stored(client)
    sim.run(HttpPolicy("", world.table.item_ids, KEY, client=client))
    assert _stored(client) > before


def test_errors_say_what_to_fix(client: TestClient, world: SimulationWorld) -> None:
    sim = ShopSimulator(world.truth, world.table, world.states, SimulationConfig(sessions=5))
    with pytest.raises(ConfigError, match=r"401.*--api-key"):
        sim.run(HttpPolicy("", world.table.item_ids, "wrong-key", client=client))
    unreachable = HttpPolicy("http://127.0.0.1:9", world.table.item_ids, KEY, timeout_s=2)
    with pytest.raises(ConfigError, match=r"did not answer.*shopsense serve"):
        sim.run(unreachable)
