"""Search over HTTP with the real engine: results, facets, autocomplete, fresh products."""

from __future__ import annotations

import string
from collections.abc import Iterator

import pytest
from api_helpers import HEADERS
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopsense.api import ServeConfig, create_app
from shopsense.config import Settings

pytest.importorskip("tantivy", reason="search needs the search extra")


@pytest.fixture(scope="module")
def search_client(shop_copy: Settings) -> Iterator[TestClient]:
    app = create_app(shop_copy, ServeConfig(api_key="test-key"), search=True)
    with TestClient(app) as client:
        state = client.app.state.serving  # type: ignore[attr-defined]
        assert state.search.ready.wait(180), "search index did not build"
        assert state.search.status == "ready", state.search.error
        yield client


def test_search_returns_explained_items_and_facets(search_client: TestClient) -> None:
    state = search_client.app.state.serving  # type: ignore[attr-defined]
    word = state.catalog.products()[0].title.split()[-1]
    body = search_client.get("/search", params={"q": word, "page_size": 5}).json()
    assert body["total"] >= 1 and 1 <= len(body["items"]) <= 5
    assert body["request_id"] and all(item["explanation"] for item in body["items"])
    assert body["facets"]
    category = state.catalog.products()[0].category_path.split(" > ")[0]
    filtered = search_client.get("/search", params={"q": word, "category": category}).json()
    assert all(i["category"].startswith(category) for i in filtered["items"])


def test_autocomplete(search_client: TestClient) -> None:
    state = search_client.app.state.serving  # type: ignore[attr-defined]
    word = state.catalog.products()[0].title.split()[0].lower()
    body = search_client.get("/suggest", params={"q": word[:3]}).json()
    assert body["suggestions"] and all(s.startswith(word[:3]) for s in body["suggestions"])


def test_an_upserted_product_is_searchable_at_once(search_client: TestClient) -> None:
    product = {"id": "FRESH-1", "title": "Zyqlorp heated yoga blanket", "category": "Home"}
    response = search_client.put("/catalog/products", json={"products": [product]}, headers=HEADERS)
    assert response.status_code == 200 and response.json()["searchable"]
    found = search_client.get("/search", params={"q": "zyqlorp"}).json()
    assert found["items"][0]["item_id"] == "FRESH-1"


def test_bad_search_parameters(search_client: TestClient) -> None:
    assert search_client.get("/search").json()["field"] == "q"
    assert search_client.get("/search", params={"q": "x", "sort": "best"}).status_code == 422
    assert search_client.get("/search", params={"q": "x", "page": 0}).json()["field"] == "page"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    q=st.text(alphabet=string.printable + "éß€\u200b", min_size=1, max_size=40),
    sort=st.sampled_from(["relevance", "price_asc", "newest", "x"]),
)
def test_no_query_makes_a_500(search_client: TestClient, q: str, sort: str) -> None:
    for url in ("/search", "/suggest", "/shop/search"):
        response = search_client.get(url, params={"q": q, "sort": sort})
        assert response.status_code < 500, (url, q, response.text[:300])


def test_search_is_personal_for_a_known_shopper(search_client: TestClient) -> None:
    state = search_client.app.state.serving  # type: ignore[attr-defined]
    user = next(f"U{n:04d}" for n in range(1, 99) if state.history(f"U{n:04d}"))
    word = state.catalog.products()[0].title.split()[-1]
    anonymous = search_client.get("/search", params={"q": word}).json()
    personal = search_client.get("/search", params={"q": word, "user_id": user}).json()
    assert not anonymous["personalized"] and personal["personalized"]
    by_popularity = search_client.get("/search", params={"q": word, "sort": "popularity"}).json()
    assert by_popularity["total"] == anonymous["total"]


def test_a_restart_encodes_only_products_new_since_the_last_index(
    search_client: TestClient, shop_copy: Settings
) -> None:
    # The module's server built the index (and saved its embeddings); a second server over
    # the same data directory finds the vectors instead of running the encoder again.
    app = create_app(shop_copy, ServeConfig(api_key="test-key"), search=True)
    with TestClient(app) as client:
        state = client.app.state.serving  # type: ignore[attr-defined]
        assert state.search.ready.wait(180) and state.search.status == "ready"
        store = state.search.embeddings
        n = len(state.catalog.products())
        assert store is not None and store.hits + store.misses == n
        assert store.misses <= 10 < store.hits  # only products upserted by earlier tests
        body = client.get("/search", params={"q": state.catalog.products()[0].title}).json()
        assert body["items"]


def test_a_server_set_to_the_static_encoder_builds_and_searches_with_it(
    shop_copy: Settings,
) -> None:
    pytest.importorskip("model2vec")
    settings = shop_copy.model_copy(update={"search_encoder": "static"})
    app = create_app(settings, ServeConfig(api_key="test-key"), search=True)
    with TestClient(app) as client:
        state = client.app.state.serving  # type: ignore[attr-defined]
        assert state.search.ready.wait(180) and state.search.status == "ready"
        engine = state.search.engine()
        assert engine.encoder.dimension == 256
        # Its own embedding store: the MiniLM vectors of the other servers are not reused.
        store = state.search.embeddings
        assert store is not None and store.misses == len(state.catalog.products())
        title = state.catalog.products()[0].title
        body = client.get("/search", params={"q": title}).json()
        assert body["items"][0]["title"] == title


@pytest.mark.slow
def test_search_holds_its_spec_for_generated_requests(search_client: TestClient) -> None:
    """Schemathesis on /search and /suggest with the index built (issue 12)."""
    pytest.importorskip("schemathesis")
    from api_helpers import fuzz_operations

    ran, failures = fuzz_operations(search_client, only={("GET", "/search"), ("GET", "/suggest")})
    assert ran == 2
    assert not failures, "\n\n".join(failures)


def test_explain_says_why_each_result_is_where_it_is(search_client: TestClient) -> None:
    """``explain=true``: the words matched, BM25, semantic similarity, and for a shopper
    the affinity blended in and where the feedback ranker moved the result."""
    state = search_client.app.state.serving  # type: ignore[attr-defined]
    user = next(f"U{n:04d}" for n in range(1, 99) if state.history(f"U{n:04d}"))
    word = state.catalog.products()[0].title.split()[-1]
    params = {"q": word, "user_id": user, "page_size": 10}
    plain = search_client.get("/search", params=params).json()
    assert all("why" not in item for item in plain["items"])
    body = search_client.get("/search", params={**params, "explain": "true"}).json()
    assert [i["item_id"] for i in body["items"]] == [i["item_id"] for i in plain["items"]]
    moves = []
    for to, item in enumerate(body["items"], start=1):
        why = item["why"]
        assert set(why) >= {"matched_terms", "lexical", "semantic", "understood"}
        title = item["title"].lower()
        assert all(term in title or term.rstrip("s") in title for term in why["matched_terms"])
        assert -1.0 <= why["semantic"] <= 1.0 and why["lexical"] >= 0.0
        if word.lower() in title.split():
            assert why["lexical"] > 0 and word.lower() in why["matched_terms"]
        assert "affinity_z" in why["personal"]
        moved = why["feedback_ranker"]
        assert moved["to"] == to
        moves.append(moved["from"])
    assert sorted(moves) == list(range(1, len(moves) + 1))  # a permutation of the page
