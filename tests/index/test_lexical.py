from __future__ import annotations

from pathlib import Path

import pytest

from shopsense.domain import Product
from shopsense.index.lexical import LexicalFilter, LexicalIndex, category_prefixes, words


@pytest.fixture
def index(products: list[Product]) -> LexicalIndex:
    lexical = LexicalIndex()
    lexical.upsert(enumerate(products))
    return lexical


def ids(index: LexicalIndex, products: list[Product], query: str, **kwargs: object) -> list[str]:
    rows, _ = index.search(query, **kwargs)  # type: ignore[arg-type]
    return [products[r].id for r in rows]


def test_words_and_category_keys() -> None:
    assert words("Men's Trail-Shoes, 3x!") == ["men", "s", "trail", "shoes", "3x"]
    assert category_prefixes(("Home", "Kitchen")) == ["home", "home > kitchen"]


def test_title_match_outranks_description_match(
    index: LexicalIndex, products: list[Product]
) -> None:
    found = ids(index, products, "shoe")
    # P1/P2 say "shoe" in the title; P3 and P8 only in the description.
    assert set(found[:2]) == {"P1", "P2"}
    assert {"P3", "P8"} <= set(found[2:])


def test_stemming_matches_plurals(index: LexicalIndex, products: list[Product]) -> None:
    assert "P5" in ids(index, products, "mugs")
    assert ids(index, products, "jackets")[0] == "P7"


def test_typo_tolerance_on_longer_words(index: LexicalIndex, products: list[Product]) -> None:
    assert ids(index, products, "waterprof")[:2] != []
    assert set(ids(index, products, "waterprof")) == {"P1", "P7"}
    assert ids(index, products, "waterprof", typo_tolerance=False) == []
    assert ids(index, products, "runnning shoe")[0] in {"P1", "P2"}


def test_filters(index: LexicalIndex, products: list[Product]) -> None:
    assert set(ids(index, products, "running", where=LexicalFilter(price_max=50))) == {"P3"}
    assert set(ids(index, products, "shoe", where=LexicalFilter(brands=("stormline",)))) == {"P1"}
    assert set(
        ids(
            index,
            products,
            "running",
            where=LexicalFilter(categories=("sports > running > socks",)),
        )
    ) == {"P3"}
    colour = LexicalFilter(attributes=(("color=blue", "color=red"),))
    assert set(ids(index, products, "shoe", where=colour)) == {"P1", "P2"}
    assert ids(index, products, "mug", where=LexicalFilter(in_stock=True)) == []
    assert index.count(LexicalFilter(categories=("home",))) == 2
    assert sorted(index.filter_rows(LexicalFilter(brands=("nexora",)), 10).tolist()) == [5, 7]


def test_upsert_replaces_and_remove_deletes(index: LexicalIndex, products: list[Product]) -> None:
    index.upsert([(4, products[4].model_copy(update={"title": "Green teapot"}))])
    assert len(index) == len(products)
    assert ids(index, products, "teapot") == ["P5"]
    assert ids(index, products, "ceramic") == []
    index.remove([0, 1])
    assert len(index) == len(products) - 2
    assert {"P1", "P2"}.isdisjoint(ids(index, products, "shoe"))


def test_complete_prefers_words_that_fit_the_context(index: LexicalIndex) -> None:
    assert index.complete("run")[0] == "running"
    assert set(index.complete("sh", ["running"])) == {"shoe", "shoes"}  # not "sofa"
    assert index.complete("zz") == []


def test_no_words_no_results(index: LexicalIndex) -> None:
    rows, scores = index.search("!!! ???")
    assert len(rows) == 0 and len(scores) == 0


def test_on_disk(tmp_path: Path, products: list[Product]) -> None:
    lexical = LexicalIndex(tmp_path / "lex")
    lexical.upsert(enumerate(products))
    again = LexicalIndex(tmp_path / "lex")
    assert len(again) == len(products)
