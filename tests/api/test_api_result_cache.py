"""The result cache (``ServingState.results``): hits only where an answer can repeat."""

from __future__ import annotations

from api_helpers import API_KEY
from fastapi.testclient import TestClient

from shopsense.api import ServeConfig, create_app
from shopsense.api.routes import recommendations
from shopsense.api.state import ResultCache, ServingState
from shopsense.config import Settings
from shopsense.recommend.engine import ANY_IN_STOCK


def serving(client: TestClient) -> ServingState:
    state: ServingState = client.app.state.serving  # type: ignore[attr-defined]
    return state


def a_shopper(state: ServingState) -> str:
    return next(str(u) for b in state.store.events.iter_batches() for u in b.user_id)


def test_logged_answers_are_not_cached_and_anonymous_ones_are(shop_copy: Settings) -> None:
    """Regression: every list served to a shopper is logged as impressions that join their
    history, so its cache key (the history's latest event) never came again; 20,000 dead
    entries made the benchmark's cached server slower than the uncached one."""
    config = ServeConfig(api_key=API_KEY, exploration=0.0)
    with TestClient(create_app(shop_copy, config, search=False)) as client:
        state = serving(client)
        user = a_shopper(state)
        first = [recommendations(state, "for_you", user, 5, ANY_IN_STOCK) for _ in range(3)]
        assert len(state.results._items) == 0 and state.results.hits == 0
        assert len(state.history(user)) > 0 and first[0]["items"]
        anonymous = [recommendations(state, "trending", "", 5, ANY_IN_STOCK) for _ in range(3)]
        assert state.results.hits == 2
        assert anonymous[0]["items"] == anonymous[2]["items"]


def test_answers_repeat_from_the_cache_when_impressions_are_not_logged(
    shop_copy: Settings,
) -> None:
    config = ServeConfig(api_key=API_KEY, exploration=0.0, log_impressions=False)
    with TestClient(create_app(shop_copy, config, search=False)) as client:
        state = serving(client)
        user = a_shopper(state)
        answers = [recommendations(state, "for_you", user, 5, ANY_IN_STOCK) for _ in range(3)]
        assert state.results.hits == 2
        assert [a["items"] for a in answers[1:]] == [answers[0]["items"]] * 2


def test_the_least_recently_used_answer_goes_first() -> None:
    cache = ResultCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert (cache.get("b"), cache.get("a"), cache.get("c")) == (None, 1, 3)
    assert (cache.hits, cache.misses) == (3, 1)


def test_size_zero_caches_nothing() -> None:
    cache = ResultCache(0)
    cache.put("a", 1)
    assert cache.get("a") is None and len(cache._items) == 0
