"""Scenarios, business rules and explanations on a fixture whose answers are known.

Five shoppers buy A, B and C together, four buy D, E and F. A-C are kitchen products,
D-F outdoor ones. A shopper holding A and B must be shown C first, because of B.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shopsense.domain import Event, EventKind, Product
from shopsense.errors import ValidationError
from shopsense.features.interactions import InteractionData
from shopsense.models import ItemKNN, Popularity
from shopsense.recommend import (
    CatalogView,
    ItemFilter,
    ModelSet,
    RecommendationEngine,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def products(out_of_stock: tuple[str, ...] = ()) -> list[Product]:
    return [
        Product(
            id=item,
            title=f"Product {item}",
            category="Home > Kitchen" if item in "ABC" else "Outdoor > Camping",
            price=10.0 * (i + 1),
            in_stock=item not in out_of_stock,
        )
        for i, item in enumerate("ABCDEF")
    ]


@pytest.fixture(scope="module")
def models() -> ModelSet:
    baskets = {f"a{i}": "ABC" for i in range(5)} | {f"d{i}": "DEF" for i in range(4)}
    data = InteractionData.from_sequences({u: list(items) for u, items in baskets.items()})
    fitted = {
        "item_knn": ItemKNN(similarity="cosine").fit(data),
        "trending": Popularity().fit(data),
        "bought_together": ItemKNN(similarity="cooccurrence").fit(data),
    }
    return ModelSet.from_models("b1", {"primary": "item_knn"}, fitted)


def engine(models: ModelSet, out_of_stock: tuple[str, ...] = ()) -> RecommendationEngine:
    return RecommendationEngine(models, CatalogView(products(out_of_stock)))


def events(*items: str, kind: str = "view", session: str | None = None) -> list[Event]:
    return [
        Event(
            event_id=f"e{i}{item}{kind}",
            user_id="target",
            session_id=session,
            kind=kind,
            item_id=item,
            timestamp=T0 + timedelta(minutes=i),
        )
        for i, item in enumerate(items)
    ]


def test_for_you_recommends_the_missing_item_because_of_the_latest(models: ModelSet) -> None:
    result = engine(models).recommend("for_you", "target", events("A", "B", kind="purchase"), n=3)
    assert result.strategy == "item_knn"
    assert result.items[0].item_id == "C"
    assert result.items[0].reason == "because you bought Product B"
    assert {r.item_id for r in result.items}.isdisjoint({"A", "B"})


def test_out_of_stock_items_are_left_out_and_the_list_is_padded(models: ModelSet) -> None:
    result = engine(models, out_of_stock=("C",)).recommend(
        "for_you", "target", events("A", "B"), n=3
    )
    ids = [r.item_id for r in result.items]
    assert "C" not in ids and len(ids) == 3
    assert set(ids) <= {"D", "E", "F"}
    assert all(r.reason == "popular in Outdoor" for r in result.items)


def test_unknown_shopper_gets_trending_with_its_category(models: ModelSet) -> None:
    result = engine(models).recommend("for_you", "nobody", [], n=2)
    assert result.strategy == "trending"
    assert [r.item_id for r in result.items] == ["A", "B"]
    assert result.items[0].reason == "popular in Home"


def test_category_and_price_filters(models: ModelSet) -> None:
    rules = ItemFilter(category="Outdoor > Camping", price_max=50.0)
    result = engine(models).recommend("for_you", "target", events("A", "B"), n=5, rules=rules)
    assert [r.item_id for r in result.items] == ["D", "E"]
    nothing = ItemFilter(category="Outdoor")  # a prefix of the path matches too
    assert len(engine(models).recommend("trending", "t", [], n=5, rules=nothing).items) == 3


def test_similar_items_of_an_anchor(models: ModelSet) -> None:
    result = engine(models).recommend("similar", "target", [], n=2, item_id="A")
    assert {r.item_id for r in result.items} == {"B", "C"}
    assert all(r.reason == "similar to Product A" for r in result.items)


def test_bought_together_with_the_cart(models: ModelSet) -> None:
    cart = events("D", kind="add_to_cart", session="s1")
    result = engine(models).recommend("bought_together", "target", cart, n=2)
    assert result.strategy == "bought_together"
    assert {r.item_id for r in result.items} == {"E", "F"}
    assert all(r.reason == "often bought with Product D" for r in result.items)


def test_session_scenario_reads_only_the_current_session(models: ModelSet) -> None:
    history = events("A", "B", session="old") + events("D", session="new")
    history = sorted(history, key=lambda e: (e.session_id != "old", e.timestamp))
    result = engine(models).recommend("session", "target", history, n=2)
    # Only D is in the current session, so its neighbours come first (A, B were seen).
    assert {r.item_id for r in result.items} == {"E", "F"}
    assert all("Product D" in r.reason for r in result.items)


def test_unknown_anchor_and_scenario_are_validation_errors(models: ModelSet) -> None:
    with pytest.raises(ValidationError, match="item_id"):
        engine(models).recommend("similar", "t", [], item_id="nope")
    with pytest.raises(ValidationError, match="scenario"):
        engine(models).recommend("magic", "t", [])  # type: ignore[arg-type]


def test_forget_user_zeroes_learned_factors() -> None:
    from shopsense.models import ALS

    data = InteractionData.from_sequences({"u1": ["A", "B"], "u2": ["B", "C"]})
    als = ALS(factors=4, iterations=3).fit(data)
    models = ModelSet.from_models("b", {"primary": "als"}, {"als": als})
    engine_ = RecommendationEngine(models, CatalogView(products()))
    assert abs(als.user_factors_[0]).sum() > 0
    engine_.forget_user("u1")
    assert abs(als.user_factors_[0]).sum() == 0
    assert abs(als.user_factors_[1]).sum() > 0


def test_kinds_map_to_verbs() -> None:
    from shopsense.recommend import explain

    assert explain.because(EventKind.ADD_TO_CART, "Mug") == "because you added Mug to your cart"
    assert explain.because(EventKind.CLICK, "Mug") == "because you viewed Mug"
    assert explain.popular_in("") == "popular right now"
    assert explain.matches(" rain jacket ") == "matches 'rain jacket'"
    assert explain.short("x" * 100).endswith("…") and len(explain.short("x" * 100)) == 60


def test_the_fold_in_shortcut_equals_recommend() -> None:
    import numpy as np

    from shopsense.models import ALS
    from shopsense.recommend.engine import _top_for_history

    baskets = {f"a{i}": "ABC" for i in range(5)} | {f"d{i}": "DEF" for i in range(4)}
    data = InteractionData.from_sequences({u: list(items) for u, items in baskets.items()})
    als = ALS(factors=4, iterations=5).fit(data)
    mask = np.array([True, True, True, True, False, True])
    for history, weights in ((["A", "B"], [1.0, 8.0]), (["D"], [2.0]), (["zz", "E"], [1.0, 1.0])):
        expected = als.recommend("x", 4, exclude_seen=False, filter=mask, history=history,
                                 weights=weights)  # fmt: skip
        got = _top_for_history(als, "x", history, weights, mask, 4)
        assert list(got[0]) == list(expected[0])
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-5)


def test_a_product_newer_than_the_models_gets_popular_items_of_its_category(
    models: ModelSet,
) -> None:
    catalog = CatalogView([*products(), Product(id="G", title="New tent", category="Outdoor")])
    result = RecommendationEngine(models, catalog).recommend("similar", "t", [], n=3, item_id="G")
    assert result.strategy == "trending"
    assert {r.item_id for r in result.items} == {"D", "E", "F"}
    assert all(r.reason == "popular in Outdoor" for r in result.items)


def test_scenario_models_name_what_answers_each_scenario(models: ModelSet) -> None:
    """What the dashboard shows (by the models' names in the bundle) is what the engine runs."""
    answering = models.scenario_models()
    assert answering == {
        "for_you": "item_knn",
        "session": "item_knn",
        "similar": "item_knn",
        "bought_together": "bought_together",
        "trending": "trending",
    }
    run = engine(models)
    cart = events("A", kind="add_to_cart", session="s1")
    for scenario in ("for_you", "session", "similar", "bought_together", "trending"):
        result = run.recommend(scenario, "target", cart, n=2)  # type: ignore[arg-type]
        expected = models.models[answering[scenario]].name
        # trending and bought_together report their role, the others the model's kind
        assert result.strategy in (expected, answering[scenario]), scenario
    without = ModelSet.from_models("b2", {"primary": "item_knn"}, {"item_knn": models.personal})
    assert without.scenario_models()["bought_together"] == "item_knn"  # falls back


def test_a_product_no_model_has_evidence_about_gets_no_made_up_neighbours() -> None:
    """Regression (issue 15): a product only ever seen alone scored 0 (or the popularity
    tie-break) against every other, so "similar" and "bought together" listed arbitrary
    products (earbuds beside running socks) as its neighbours and as bought with it."""
    baskets = {f"a{i}": "ABC" for i in range(5)} | {f"d{i}": "DEF" for i in range(4)}
    baskets |= {"g0": "G"}  # G: known to every model, never with anything else
    data = InteractionData.from_sequences({u: list(items) for u, items in baskets.items()})
    fitted = {
        "item_knn": ItemKNN(similarity="cosine").fit(data),
        "trending": Popularity().fit(data),
        "bought_together": ItemKNN(similarity="cooccurrence").fit(data),
    }
    alone = Product(id="G", title="Product G", category="Outdoor > Camping", price=5.0)
    catalog = CatalogView([*products(), alone])
    lonely = RecommendationEngine(
        ModelSet.from_models("b2", {"primary": "item_knn"}, fitted), catalog
    )
    for scenario in ("similar", "bought_together"):
        result = lonely.recommend(scenario, "", item_id="G", n=3)  # type: ignore[arg-type]
        assert result.strategy == "trending", scenario
        # padded with what sells in G's own category first, said as such
        assert [r.item_id for r in result.items][:3] and {r.item_id for r in result.items} <= set(
            "DEF"
        )
        assert all(r.reason.startswith("popular in") for r in result.items)
    known = lonely.recommend("similar", "", item_id="D", n=2)
    assert known.strategy == "item_knn" and {r.item_id for r in known.items} == {"E", "F"}


def test_an_explanation_looks_in_every_similarity_model_for_its_anchor() -> None:
    """The usual similarity model sees no link from A to D; a second one does, so D is
    explained by A rather than by its category."""
    from shopsense.recommend import explain

    apart = InteractionData.from_sequences({"a": list("ABC"), "d": list("DEF")})
    linked = InteractionData.from_sequences({"x": list("AD"), "y": list("BE"), "z": list("CF")})
    first = ItemKNN(similarity="cosine").fit(apart)
    second = ItemKNN(similarity="cosine").fit(linked)
    assert explain.closest_history_items(first, ["A"], ["D", "B"]) == [None, "A"]
    assert explain.closest_by_any([first, second], ["A"], ["D", "B"]) == ["A", "A"]
    assert explain.closest_by_any([first], ["A"], ["D"]) == [None]
    assert explain.closest_by_any([], ["A"], ["D"]) == [None]


def test_a_sequence_model_explains_by_the_item_it_attended_to_most() -> None:
    """A bundle whose personal model is SASRec: every item is "because you viewed X", X the
    history item with the most attention (the next one for X itself), and the weights come
    with the answer."""
    pytest.importorskip("torch")
    from shopsense.models import SASRec

    sequences = {f"u{k}": ["A", "B", "C", "D", "E", "F"][k % 3 :] for k in range(30)}
    data = InteractionData.from_sequences(sequences)
    sasrec = SASRec(hidden=8, layers=1, epochs=5, valid_fraction=0.0, num_threads=1).fit(data)
    fitted = {"sasrec": sasrec, "trending": Popularity().fit(data)}
    models = ModelSet.from_models("b2", {"primary": "sasrec"}, fitted)
    history = events("A", "D", "B")
    result = engine(models).recommend("for_you", "target", history, n=3, exclude_seen=False)
    assert result.strategy == "sasrec"
    weights = sasrec.attended(["A", "D", "B"])
    assert result.attention == tuple(weights)
    top, runner_up = weights[0][0], weights[1][0]
    for r in result.items:
        anchor = runner_up if r.item_id == top else top
        assert r.reason == f"because you viewed Product {anchor}"


def test_a_stack_list_carries_the_attention_of_its_sequence_source() -> None:
    """The first of the stack's sources that attends gives the list's attention; a stack
    without one gives none."""
    from types import SimpleNamespace
    from typing import cast

    from shopsense.ranking.stack import Stack
    from shopsense.recommend.engine import _attention

    class Attends:
        def attended(self, items: list[str]) -> list[tuple[str, float]]:
            return [(items[-1], 0.75), (items[0], 0.25)]

    class Blind:
        def attended(self, items: list[str]) -> None:
            return None

    def stack(*sources: object) -> Stack:
        named = {f"s{k}": s for k, s in enumerate(sources)}
        return cast(Stack, SimpleNamespace(sources=SimpleNamespace(models=named)))

    assert _attention(stack(Blind(), Attends()), ["A", "B"]) == (("B", 0.75), ("A", 0.25))
    assert _attention(stack(Blind()), ["A", "B"]) == ()
