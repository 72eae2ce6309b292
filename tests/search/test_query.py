from __future__ import annotations

import pytest

from shopsense.search.query import parse_query


@pytest.mark.parametrize(
    ("query", "text", "low", "high"),
    [
        ("waterproof running shoes under 80", "waterproof running shoes", None, 80.0),
        ("sofa below $300.50", "sofa", None, 300.5),
        ("lamp between 20 and 50 dollars", "lamp", 20.0, 50.0),
        ("rug $20-$40", "rug", 20.0, 40.0),
        ("desk over 100", "desk", 100.0, None),
        ("tv over 100 under 400", "tv", 100.0, 400.0),
        ("1/2 inch binder", "1/2 inch binder", None, None),
        ("3 seater sofa", "3 seater sofa", None, None),
    ],
)
def test_price_phrases(query: str, text: str, low: float | None, high: float | None) -> None:
    parsed = parse_query(query)
    assert (parsed.text, parsed.price_min, parsed.price_max) == (text, low, high)


def test_brands_and_colours() -> None:
    parsed = parse_query("Nike air max grey", brands={"nike": "Nike", "air max": "Air Max"})
    assert parsed.brands == ("Air Max", "Nike")
    assert parsed.colours == ("grey",)
    assert parsed.text == "Nike air max grey"  # brand and colour words stay for ranking
    assert parsed.notes == ["brand: Air Max", "brand: Nike", "colour: grey"]


@pytest.mark.parametrize(
    ("query", "text", "excluded"),
    [
        ("dinnerware sets without mugs", "dinnerware sets", ("mugs",)),
        ("lights without wiring with switch", "lights with switch", ("wiring",)),
        ("silicone mat not clear", "silicone mat", ("clear",)),
        ("wireless thermostat without c wire", "wireless thermostat", ("wire",)),
        ("brown belt without buckle, leather", "brown belt, leather", ("buckle",)),
        ("sofa w/o cushions under 300", "sofa", ("cushions",)),
        ("not for kids", "not for kids", ()),  # nothing would be left to search for
        ("no show socks", "no show socks", ()),  # "no" names products too often
    ],
)
def test_negated_words_leave_the_text(query: str, text: str, excluded: tuple[str, ...]) -> None:
    parsed = parse_query(query)
    assert (parsed.text, parsed.excluded) == (text, excluded)
    if excluded:
        assert parsed.notes[-1] == "without: " + " ".join(excluded)
