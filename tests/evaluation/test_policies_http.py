"""``HttpPolicy`` against the real FastAPI app, in-process (the ``simulate --url`` path)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from shopsense.api import ServeConfig, create_app
from shopsense.config import Settings
from shopsense.demo import run_demo
from shopsense.domain import Event, EventKind
from shopsense.errors import ConfigError
from shopsense.evaluation.http_policy import HttpPolicy
from shopsense.evaluation.simulator import ShopSimulator, SimulatedShop, SimulationConfig
from shopsense.synth import ShopConfig, generate_shop

KEY = "sim-key"
PRODUCTS, USERS, SEED = 150, 40, 3


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("http-shop")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert run_demo(Settings(data_dir=directory), PRODUCTS, USERS, SEED)
    return directory


@pytest.fixture(scope="module")
def client(shop_dir: Path) -> Iterator[TestClient]:
    pytest.importorskip("tantivy", reason="simulated searches need the search extra")
    app = create_app(Settings(data_dir=shop_dir), ServeConfig(api_key=KEY), search=True)
    with TestClient(app) as test_client:
        state = test_client.app.state.serving  # type: ignore[attr-defined]
        assert state.search.ready.wait(180), "search index did not build"
        yield test_client


@pytest.fixture(scope="module")
def world() -> SimulatedShop:
    # the same shop `run_demo` ingested: same sizes and seed
    shop = generate_shop(ShopConfig(n_products=PRODUCTS, n_users=USERS, seed=SEED))
    return SimulatedShop.from_shop(shop)


def _stored(client: TestClient) -> int:
    store: Any = client.app.state.serving.store  # type: ignore[attr-defined]
    return int(store.events.count())


def test_simulation_through_the_api(client: TestClient, world: SimulatedShop) -> None:
    sim = ShopSimulator(world, SimulationConfig(sessions=30, search=False))
    policy = HttpPolicy("", world.logged.table.item_ids, KEY, client=client)
    serving: Any = client.app.state.serving  # type: ignore[attr-defined]
    before = _stored(client)
    result = sim.run(policy)
    assert result.impressions.sum() > 0
    # over-fetching fills every list although the server only knows recent history
    assert np.all(result.impressions % 10 == 0)
    # the server logged its lists' impressions; the simulator posted the shoppers' events,
    # attributed to the server's request ids
    serving.impressions.flush()
    posted = _stored(client) - before
    assert posted >= result.impressions.sum() + result.clicks.sum()
    store: Any = serving.store
    history = store.events.user_history(result.user_ids[0], 500)
    mine = [e for e in history if e.event_id.startswith(policy.run_id)]
    assert all(not e.request_id.startswith("sim-") for e in mine if e.request_id)
    served = [e for e in history if e.event_id.startswith("imp:")]
    assert served and all(e.kind is EventKind.IMPRESSION and e.propensity for e in served)


def test_a_second_run_is_not_dropped_as_duplicates(
    client: TestClient, world: SimulatedShop
) -> None:
    """Regression: the simulator's event ids repeat run to run; the server drops repeated
    ids, so a second simulation silently did not reach the server."""
    sim = ShopSimulator(world, SimulationConfig(sessions=10))
    sim.run(HttpPolicy("", world.logged.table.item_ids, KEY, client=client))
    before = _stored(client)
    sim.run(HttpPolicy("", world.logged.table.item_ids, KEY, client=client))
    assert _stored(client) > before


def test_searches_go_to_the_server(client: TestClient, world: SimulatedShop) -> None:
    sim = ShopSimulator(world, SimulationConfig(sessions=40, seed=5))
    events: list[Any] = []
    sim.run(HttpPolicy("", world.logged.table.item_ids, KEY, client=client), sink=events.extend)
    assert any(e.kind is EventKind.SEARCH for e in events)


def test_errors_say_what_to_fix(client: TestClient, world: SimulatedShop) -> None:
    """Regression: this ran five simulated sessions and expected the wrong key to fail on
    the first posted event; a run in which nobody clicked posted nothing and did not fail.
    The write is now made directly."""
    sim = ShopSimulator(world, SimulationConfig(sessions=5, search=False))
    ids = world.logged.table.item_ids
    click = Event(
        event_id="wrong-key-1", user_id="U0001", kind=EventKind.CLICK, item_id=ids[0],
        timestamp=datetime.now(UTC),
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"401.*--api-key"):
        HttpPolicy("", ids, "wrong-key", client=client).post([click])
    unreachable = HttpPolicy("http://127.0.0.1:9", ids, KEY, timeout_s=2)
    with pytest.raises(ConfigError, match=r"did not answer.*shopsense serve"):
        sim.run(unreachable)


def test_a_non_2xx_status_is_an_answer_and_a_lost_connection_an_error() -> None:
    """The httpx client's failures read as they did with urllib: the server's own error
    says what it answered, an unreachable one says how to start it."""
    asked: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        if request.url.path == "/events":
            return httpx.Response(503, text="store away")
        return httpx.Response(200, json={"items": [], "request_id": "r1"})

    with httpx.Client(transport=httpx.MockTransport(server)) as client:
        policy = HttpPolicy("http://shop.test/", ["P1"], KEY, client=client)
        assert policy._call("GET", "/recommendations/U1") == {"items": [], "request_id": "r1"}
        with pytest.raises(ConfigError, match=r"answered POST /events with 503: store away"):
            policy._call("POST", "/events", {"events": []})
    assert asked[0].url == "http://shop.test/recommendations/U1"
    assert asked[1].headers["X-API-Key"] == KEY and asked[1].content == b'{"events": []}'

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(unreachable)) as client:
        policy = HttpPolicy("http://shop.test", ["P1"], KEY, client=client)
        with pytest.raises(ConfigError, match=r"did not answer GET /health.*shopsense serve"):
            policy._call("GET", "/health")


def test_the_default_client_is_closed_with_the_policy() -> None:
    with HttpPolicy("http://127.0.0.1:9", ["P1"], KEY, timeout_s=2) as policy:
        client = policy.client
        assert isinstance(client, httpx.Client) and client.timeout.read == 2
        with pytest.raises(ConfigError, match=r"did not answer"):
            policy._call("GET", "/health")
    assert client.is_closed
