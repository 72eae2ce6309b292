from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from search_helpers import HashingEncoder
from shopsense.domain import Product
from shopsense.errors import ConfigError, ModelError
from shopsense.search import Filters, SearchConfig, SearchEngine


@pytest.fixture(scope="module")
def engine(products: list[Product], encoder: HashingEncoder) -> SearchEngine:
    built = SearchEngine.build(products, encoder=encoder, popularity={"P2": 10.0, "P1": 5.0})
    return built


def test_finds_by_words_typos_and_explains(engine: SearchEngine) -> None:
    result = engine.search("running shoes")
    assert set(result.ids[:2]) == {"P1", "P2"}
    assert "matches 'running'" in result.items[0].explanation
    assert engine.search("runnning shoe").ids[0] in {"P1", "P2"}
    assert engine.search("iphone case").ids[0] == "P6"
    assert result.took_ms > 0


def test_brand_and_colour_words_are_not_filters_by_default(engine: SearchEngine) -> None:
    result = engine.search("stormline shoe")
    assert result.understood == [] and result.filters == {}
    assert "P2" in result.ids


def test_price_phrase_becomes_a_filter(engine: SearchEngine) -> None:
    result = engine.search("running shoes under 80")
    assert result.understood == ["price <= 80"]
    assert result.filters == {"price_max": 80.0}
    assert all(h.price is not None and h.price <= 80 for h in result.items)
    assert "P2" not in result.ids


def test_a_query_of_filters_only_says_so(engine: SearchEngine) -> None:
    """Regression (issue 15): a query without words ("under 80", " ") explained every
    result as "close in meaning to ''"."""
    for query in ("under 80", " "):
        result = engine.search(query)
        assert result.items, query
        assert all("''" not in h.explanation for h in result.items), query
        assert result.items[0].explanation.startswith("no search words: chosen by the filters")
    assert engine.search("under 80").items[0].explanation.endswith("; price <= 80")


def test_brand_and_colour_words_filter_but_fall_back(
    products: list[Product], encoder: HashingEncoder
) -> None:
    engine = SearchEngine.build(products, SearchConfig(intent_filters=True), encoder)
    brand = engine.search("stormline shoe")
    assert brand.ids[0] == "P1" and "brand: Stormline" in brand.understood
    blue = engine.search("blue running shoe")
    assert blue.ids[0] == "P1" and "colour: blue" in blue.understood
    # No purple product exists: the colour reading is dropped instead of returning nothing.
    purple = engine.search("purple sofa")
    assert purple.ids[0] == "P4" and purple.understood == []


def test_explicit_filters_facets_and_total(engine: SearchEngine) -> None:
    result = engine.search(
        "running", filters=Filters(categories=("Sports > Running",), in_stock=True)
    )
    assert set(result.ids) <= {"P1", "P2", "P3"} and result.total == len(result.ids)
    facets = dict(result.facets)
    assert ("Sports > Running", result.total) in facets["category"]
    assert sum(count for _, count in facets["brand"]) == result.total
    attrs = engine.search("shoe", filters=Filters(attributes={"color": ["red"]}))
    assert attrs.ids == ["P2"]
    stock = engine.search("mug", filters=Filters(in_stock=False))
    assert stock.ids == ["P5"]


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("price_asc", lambda p: p.price),
        ("price_desc", lambda p: -p.price),
        ("newest", lambda p: -p.created_at.timestamp()),
    ],
)
def test_sorts(engine: SearchEngine, products: list[Product], sort: str, key: object) -> None:
    by_id = {p.id: p for p in products}
    ids = engine.search("running shoe", sort=sort, page_size=50).ids
    values = [key(by_id[i]) for i in ids]  # type: ignore[operator]
    assert values == sorted(values)


def test_popularity_sort(engine: SearchEngine) -> None:
    assert engine.search("running shoe", sort="popularity").ids[:2] == ["P2", "P1"]


def test_pages_partition_the_results(engine: SearchEngine) -> None:
    full = engine.search("shoe", page_size=50)
    pages = [engine.search("shoe", page=p, page_size=2).ids for p in range(1, 6)]
    assert [i for page in pages for i in page] == full.ids
    assert all(len(page) <= 2 for page in pages)


def test_bad_requests_raise_config_errors(engine: SearchEngine) -> None:
    with pytest.raises(ConfigError, match="sort"):
        engine.search("shoe", sort="cheapest")
    with pytest.raises(ConfigError, match="page"):
        engine.search("shoe", page=0)
    with pytest.raises(ConfigError, match="fusion"):
        SearchConfig(fusion="max")


def test_suggest(engine: SearchEngine) -> None:
    assert engine.suggest("runn")[0] == "running"
    assert engine.suggest("running sh")[0].startswith("running sho")
    assert engine.suggest("") == []


def test_rrf_fusion_gives_the_same_top_result(engine: SearchEngine) -> None:
    rrf = engine.with_config(fusion="rrf")
    assert rrf.search("leather wallet").ids[0] == "P8"


class FavouriteBrand:
    """Affinity stub: the shopper loves Peakform."""

    def __init__(self, products: list[Product]) -> None:
        self.brand = {p.id: p.brand for p in products}

    def affinity(
        self, user_id: str | None, history: Sequence[str] | None, item_ids: Sequence[str]
    ) -> np.ndarray | None:
        if user_id is None:
            return None
        return np.array([5.0 if self.brand[i] == "Peakform" else 0.0 for i in item_ids], np.float32)


def test_personalization_is_per_request(products: list[Product], encoder: HashingEncoder) -> None:
    engine = SearchEngine.build(products, encoder=encoder)
    engine.personalizer = FavouriteBrand(products)
    plain = engine.search("running")
    assert not plain.personalized
    personal = engine.search("running", user_id="U1")
    assert personal.personalized and set(personal.ids[:2]) == {"P2", "P3"}  # the Peakform ones
    assert sorted(personal.ids) == sorted(plain.ids)  # re-ordered, nothing added or lost
    off = engine.search("running", user_id="U1", personalize=False)
    assert off.ids == plain.ids


def test_upsert_remove_and_save_load(
    products: list[Product], encoder: HashingEncoder, tmp_path: Path
) -> None:
    engine = SearchEngine.build(products, encoder=encoder)
    engine.upsert([Product(id="P9", title="Hiking boot, waterproof", price=150.0)])
    engine.upsert([products[0].model_copy(update={"price": 59.0})])
    assert engine.search("hiking boot").ids[0] == "P9"
    assert engine.search("trail shoe").items[0].price == 59.0
    assert engine.remove(["P2", "nope"]) == 1
    assert "P2" not in engine.search("running shoe").ids
    assert len(engine) == len(products)
    engine.save(tmp_path / "search")
    loaded = SearchEngine.load(tmp_path / "search", encoder=encoder)
    for query in ("running shoe", "hiking boot", "sofa"):
        assert loaded.search(query).ids == engine.search(query).ids


def test_rebuilds_encode_only_new_or_edited_products(
    products: list[Product], encoder: HashingEncoder, tmp_path: Path
) -> None:
    from shopsense.features.embedding_store import EmbeddingStore

    asked: list[str] = []

    class Counting(HashingEncoder):
        def encode(self, texts: Sequence[str]) -> np.ndarray:
            asked.extend(texts)
            return super().encode(texts)

    counting = Counting()
    first = SearchEngine.build(
        products, encoder=counting, embeddings=EmbeddingStore(tmp_path, "hashing")
    )
    assert len(asked) == len(products)
    asked.clear()
    edited = [products[0].model_copy(update={"title": "Trail shoe, red"}), *products[1:]]
    again = SearchEngine.build(
        edited, encoder=counting, embeddings=EmbeddingStore(tmp_path, "hashing")
    )
    assert len(asked) == 1 and asked[0].startswith("Trail shoe, red")
    for query in ("running shoe", "sofa"):
        assert again.search(query).ids == first.search(query).ids


def test_load_refuses_vectors_from_another_encoder(
    products: list[Product], encoder: HashingEncoder, tmp_path: Path
) -> None:
    SearchEngine.build(products[:2], encoder=encoder).save(tmp_path / "s")

    class OtherEncoder(HashingEncoder):
        pass

    with pytest.raises(ModelError, match="built with the encoder"):
        SearchEngine.load(tmp_path / "s", encoder=OtherEncoder())


def test_products_with_words_the_shopper_excludes_drop(encoder: HashingEncoder) -> None:
    sets = [
        Product(id="D1", title="Porcelain dinnerware set with 4 mugs", category=("Home",)),
        Product(id="D2", title="Porcelain dinnerware set, 12 pieces", category=("Home",)),
        Product(id="D3", title="Porcelain dinnerware set without mugs", category=("Home",)),
    ]
    plain = SearchEngine.build(sets, encoder=encoder).search("porcelain dinnerware set mugs")
    assert plain.ids.index("D1") < plain.ids.index("D2")
    scores = {}
    for penalty in (0.0, 0.5):
        engine = SearchEngine.build(sets, SearchConfig(exclusion_penalty=penalty), encoder)
        result = engine.search("porcelain dinnerware set without mugs")
        assert result.understood == ["without: mugs"]
        scores[penalty] = {h.id: h.score for h in result.items}
    # D1's title has mugs: it drops, and last. D3's title says it has none: it does not.
    assert scores[0.5]["D1"] < scores[0.0]["D1"]
    assert min(scores[0.5], key=scores[0.5].__getitem__) == "D1"
    assert scores[0.5]["D3"] == scores[0.0]["D3"]


def test_explain_says_what_placed_each_hit(
    products: list[Product], encoder: HashingEncoder
) -> None:
    """Matched words, BM25, semantic similarity, the filters read from the query, the
    shopper's affinity where it re-ordered the page; nothing extra without ``explain``."""
    engine = SearchEngine.build(products, encoder=encoder)
    engine.personalizer = FavouriteBrand(products)
    plain = engine.search("running shoes under 200", user_id="U1")
    assert all(hit.why is None for hit in plain.items)
    result = engine.search("running shoes under 200", user_id="U1", explain=True)
    assert result.ids == plain.ids
    for hit in result.items:
        why = hit.why
        assert why is not None
        title = hit.title.lower()
        assert why["matched_terms"] == [w for w in ("running", "shoes") if w.rstrip("s") in title]
        assert why["lexical"] == hit.lexical_score and why["semantic"] == hit.semantic_score
        assert why["understood"] == result.understood == ["price <= 200"]
        personal = why["personal"]
        assert personal["weight"] == engine.config.personal_weight
    loved = [h.why["personal"]["affinity_z"] for h in result.items if h.brand == "Peakform"]
    others = [h.why["personal"]["affinity_z"] for h in result.items if h.brand != "Peakform"]
    assert loved and others and min(loved) > max(others)
    assert "ranker" not in result.items[0].why  # no learning-to-rank model here


def test_explain_gives_the_ranker_contributions(
    products: list[Product], encoder: HashingEncoder
) -> None:
    from shopsense.ranking.search_ranker import SearchRanker
    from shopsense.search.engine import EXPLAINED_FEATURES
    from shopsense.search.features import FEATURES

    engine = SearchEngine.build(products, encoder=encoder)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(20, len(FEATURES))).astype(np.float32) for _ in range(20)]
    ys = [np.digitize(x[:, FEATURES.index("bm25")], [0.0, 1.0]).astype(np.int32) for x in xs]
    engine.ranker = SearchRanker(n_estimators=20, min_child_samples=5).fit(xs, ys, FEATURES)
    result = engine.search("running shoes", explain=True)
    assert result.reranked
    for hit in result.items:
        ranker = hit.why["ranker"]
        assert ranker["score"] == pytest.approx(hit.score)
        values = [c["value"] for c in ranker["contributions"]]
        assert len(values) == EXPLAINED_FEATURES
        assert [abs(v) for v in values] == sorted((abs(v) for v in values), reverse=True)
        assert {c["feature"] for c in ranker["contributions"]} <= set(FEATURES)
