"""The storefront's small parts: prices, highlights, pictures, search-page links."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from shopsense.api.cards import highlight, money
from shopsense.api.pictures import paint_of, picture_url, product_svg
from shopsense.api.shop_browse import Browse, bucket_label, pages
from shopsense.domain import Product

SORTS = ("relevance", "price_asc", "price_desc")


def test_money_in_each_currency() -> None:
    assert money(12.5, "USD") == "$12.50"
    assert money(1234.5, "EUR") == "€1,234.50"
    assert money(7, "GBP") == "£7.00"
    assert money(1500, "JPY") == "¥1,500"
    assert money(12, "SEK") == "SEK 12.00"


def test_highlight_marks_query_words_and_escapes_the_rest() -> None:
    marked = highlight("Kids' <running> shoes & socks", ["shoe", "runn"])
    assert str(marked) == "Kids&#39; &lt;<mark>running</mark>&gt; <mark>shoes</mark> &amp; socks"
    assert str(highlight("Trail shoe", [])) == "Trail shoe"


def test_pictures_are_painted_in_the_products_colour() -> None:
    blue = Product(id="P 1/x", title="Trailmark Ridge shoe", category="Sports > Running > Shoes",
                   attributes={"color": "blue"})  # fmt: skip
    assert picture_url(blue) == "/shop/picture/P%201%2Fx.svg"
    assert paint_of(blue) == "#2f6fd6" and 'fill="#2f6fd6"' in product_svg(blue)
    odd = blue.model_copy(update={"attributes": {"color": "sunset"}})
    assert paint_of(odd).startswith("hsl(") and paint_of(odd) == paint_of(odd)
    photo = blue.model_copy(update={"attributes": {"image_url": "/media/p1.jpg"}})
    assert picture_url(photo) == "/media/p1.jpg"


def test_every_link_keeps_the_rest_of_the_search() -> None:
    params = {"q": "shoe", "brand": "Trailmark", "color": "blue", "sort": "price_asc", "page": "3"}
    browse = Browse.from_query(params, SORTS, ("color", "size"))

    def query(url: str) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(url).query))

    assert query(browse.url(page=4)) == {**params, "page": "4"}
    assert query(browse.url(sort="price_desc")) == {**params, "sort": "price_desc"}
    picked = query(browse.toggled("size", "M").url())
    assert picked == {**{k: v for k, v in params.items() if k != "page"}, "size": "M"}
    assert "brand" not in query(browse.toggled("brand", "Trailmark").url())  # clicked again
    assert ("color", "blue") in browse.hidden_fields() and (
        "sort",
        "price_asc",
    ) not in browse.hidden_fields()


def test_bad_url_parameters_fall_back_instead_of_failing() -> None:
    browse = Browse.from_query({"sort": "best", "page": "-2", "price": "cheap"}, SORTS, ())
    assert (browse.sort, browse.page, browse.price) == ("relevance", 1, "")
    assert Browse.from_query({"page": "9999"}, SORTS, ()).page == 100


def test_price_buckets_read_as_prices_and_filter_their_range() -> None:
    assert bucket_label("0-10", "USD") == "Under $10"
    assert bucket_label("25-50", "EUR") == "€25 – €50"
    assert bucket_label("1000+", "USD") == "$1,000 and up"
    filters = Browse(price="25-50").filters()
    assert filters.price_min == 25 and 49.99 < (filters.price_max or 0) < 50
    counts = {"price": [("50-100", 4), ("0-10", 2), ("1000+", 1), ("25-50", 9)]}
    ((_, _, values),) = Browse().facets(counts, "USD")
    assert [v.value for v in values] == ["0-10", "25-50", "50-100", "1000+"]


def test_pages_link_the_ends_and_the_neighbours() -> None:
    assert pages(1, 12) == [1]
    assert pages(1, 30) == [1, 2, 3]
    assert pages(5, 240) == [1, None, 4, 5, 6, None, 20]
