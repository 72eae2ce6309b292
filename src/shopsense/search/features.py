"""Search features of (query, product) pairs for learning to rank.

One row per candidate, columns named in :data:`FEATURES`: BM25 overall and per field,
semantic similarity, both retrieval ranks, word coverage of title and text, exact phrase,
brand / colour / number (size) agreement, attribute matches, price, rating, popularity and
lengths, plus the main ones relative to the query's other candidates. Missing values are
``NaN`` (LightGBM handles them natively).

Example::

    >>> matrix = search_features(evidence, products, popularity)   # doctest: +SKIP
    >>> matrix.shape                                                # doctest: +SKIP
    (n_candidates, len(FEATURES))
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from shopsense.domain import Product
from shopsense.index.lexical import words
from shopsense.search.fusion import weighted
from shopsense.search.query import COLOURS, ParsedQuery

BASE_FEATURES = (
    "bm25",
    "bm25_title",
    "bm25_brand",
    "bm25_category",
    "bm25_description",
    "cosine",
    "lexical_rank",
    "semantic_rank",
    "title_coverage",
    "text_coverage",
    "exact_phrase",
    "brand_in_query",
    "brand_filter_match",
    "colour_match",
    "colour_mismatch",
    "number_match",
    "attribute_matches",
    "log_price",
    "rating",
    "log_rating_count",
    "log_popularity",
    "query_words",
    "title_words",
    "fused",
    "fused_z",
    "excluded_in_title",
    "excluded_in_text",
)
#: Features also given relative to the query's other candidates (gap to the best, z-score):
#: trees see "the best title match of this query" instead of a raw score whose scale
#: changes from query to query (+0.02 NDCG@10 on esci-sample).
RELATIVE = (
    "bm25",
    "bm25_title",
    "bm25_brand",
    "bm25_category",
    "bm25_description",
    "cosine",
    "title_coverage",
    "text_coverage",
)
FEATURES = BASE_FEATURES + tuple(f"{name}_{kind}" for name in RELATIVE for kind in ("gap", "z"))
_NUMBERS = re.compile(r"\d+(?:[./]\d+)?")
#: Words that negate the word after them in product text ("chair, no wheels").
_NEGATORS = frozenset(("no", "not", "without", "free", "non", "less", "zero", "w", "o"))


def _stem(word: str) -> str:
    """Plural-insensitive form for coverage features ("shoes" ~ "shoe")."""
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@dataclass
class Evidence:
    """What retrieval learned about each candidate; arrays have shape ``(n_candidates,)``.

    ``bm25_fields`` maps a text field to its per-field BM25 (0 where it did not match);
    ranks are 1-based, ``inf`` where a retriever did not return the candidate;
    ``excluded`` is the share of the query's excluded words in each title (``None`` when the
    query excludes nothing).
    """

    parsed: ParsedQuery
    bm25: npt.NDArray[np.float32]
    cosine: npt.NDArray[np.float32]
    lexical_rank: npt.NDArray[np.float32]
    semantic_rank: npt.NDArray[np.float32]
    bm25_fields: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)
    excluded: npt.NDArray[np.float32] | None = None


def _number(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def search_features(
    evidence: Evidence,
    products: Sequence[Product],
    popularity: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32]:
    """``(len(products), len(FEATURES))`` feature matrix for one query's candidates."""
    n = len(products)
    matrix = np.full((n, len(FEATURES)), np.nan, np.float32)
    column = {name: i for i, name in enumerate(FEATURES)}
    top_bm25 = float(evidence.bm25.max()) if n and evidence.bm25.max() > 0 else 1.0
    matrix[:, column["bm25"]] = evidence.bm25 / top_bm25
    for name in ("title", "brand", "category", "description"):
        values = evidence.bm25_fields.get(name)
        if values is not None:
            matrix[:, column[f"bm25_{name}"]] = values
    matrix[:, column["cosine"]] = evidence.cosine
    # Equal-weight fusions as ready-made features: small training sets learn faster from
    # a strong combined signal than from rebuilding it out of trees (+0.005 on esci-sample).
    matrix[:, column["fused"]] = weighted(evidence.bm25, evidence.cosine, 0.5)
    matrix[:, column["fused_z"]] = weighted(evidence.bm25, evidence.cosine, 0.5, "z")
    matrix[:, column["lexical_rank"]] = 1.0 / evidence.lexical_rank
    matrix[:, column["semantic_rank"]] = 1.0 / evidence.semantic_rank
    if popularity is not None:
        matrix[:, column["log_popularity"]] = np.log1p(np.maximum(popularity, 0.0))

    query_text = evidence.parsed.text.lower()
    query_words = [_stem(w) for w in words(query_text)]
    query_set = set(query_words)
    query_numbers = set(_NUMBERS.findall(query_text))
    query_colours = set(evidence.parsed.colours)
    wanted_brands = {b.lower() for b in evidence.parsed.brands}
    excluded = {_stem(w) for w in evidence.parsed.excluded}
    matrix[:, column["query_words"]] = len(query_words)
    for i, product in enumerate(products):
        title = product.title.lower()
        title_words = {_stem(w) for w in words(title)}
        text_words = title_words | {_stem(w) for w in words(_rest(product))}
        row = matrix[i]
        if query_set:
            row[column["title_coverage"]] = len(query_set & title_words) / len(query_set)
            row[column["text_coverage"]] = len(query_set & text_words) / len(query_set)
        row[column["exact_phrase"]] = float(bool(query_text) and query_text in title)
        brand = (product.brand or "").lower()
        row[column["brand_in_query"]] = float(bool(brand) and brand in query_text)
        row[column["brand_filter_match"]] = float(brand in wanted_brands) if wanted_brands else 0.0
        colour = str(product.attributes.get("color", product.attributes.get("colour", ""))).lower()
        colours = (set(words(colour)) | (title_words & COLOURS)) & COLOURS
        if query_colours:
            row[column["colour_match"]] = float(bool(query_colours & colours))
            row[column["colour_mismatch"]] = float(bool(colours) and not query_colours & colours)
        if query_numbers:
            found = set(_NUMBERS.findall(title))
            row[column["number_match"]] = len(query_numbers & found) / len(query_numbers)
        attribute_words = {_stem(w) for v in product.attributes.values() for w in words(str(v))}
        row[column["attribute_matches"]] = len(query_set & attribute_words)
        if product.price is not None:
            row[column["log_price"]] = math.log1p(product.price)
        row[column["rating"]] = _number(product.attributes.get("rating"))
        count = _number(product.attributes.get("rating_count"))
        row[column["log_rating_count"]] = math.log1p(count) if count == count else math.nan
        row[column["title_words"]] = len(title_words)
        if excluded:
            row[column["excluded_in_text"]] = _present(
                excluded, f"{product.title} {_rest(product)}"
            )
    if excluded:
        # Retrieval has scored the titles already (it demotes by them); tests may not have.
        in_title = evidence.excluded
        if in_title is None:
            in_title = excluded_share(evidence.parsed, [p.title for p in products])
        matrix[:, column["excluded_in_title"]] = in_title
    _add_relative(matrix, column)
    return matrix


def excluded_share(parsed: ParsedQuery, titles: Sequence[str]) -> npt.NDArray[np.float32] | None:
    """Per title, the share of the query's excluded words it has (``None``: none excluded)."""
    if not parsed.excluded:
        return None
    excluded = {_stem(w) for w in parsed.excluded}
    return np.asarray([_present(excluded, t) for t in titles], np.float32)


def _present(excluded: set[str], text: str) -> float:
    """Share of the ``excluded`` (stemmed) words that ``text`` has, not counting mentions it
    negates itself ("desk chair without wheels", "gelatin free")."""
    tokens = [_stem(w) for w in words(text)]
    found = set()
    for i, token in enumerate(tokens):
        if token in excluded:
            before = tokens[max(0, i - 2) : i]
            after = tokens[i + 1 : i + 2]
            if not _NEGATORS.intersection(before) and after not in (["free"], ["less"], ["not"]):
                found.add(token)
    return len(found) / len(excluded)


def _add_relative(matrix: npt.NDArray[np.float32], column: dict[str, int]) -> None:
    """Fill the ``*_gap`` and ``*_z`` columns from the base columns, within this query."""
    for name in RELATIVE:
        values = np.nan_to_num(matrix[:, column[name]], nan=0.0)
        if len(values) == 0:
            return
        spread = float(values.std())
        matrix[:, column[f"{name}_gap"]] = values - values.max()
        matrix[:, column[f"{name}_z"]] = (values - values.mean()) / (
            spread if spread > 1e-9 else 1.0
        )


def _rest(product: Product) -> str:
    return " ".join((product.brand or "", " ".join(product.category), product.description[:500]))


def feature_dict(matrix: npt.NDArray[np.float32], row: int) -> Mapping[str, float]:
    """One candidate's features by name (for explanations and debugging)."""
    return {name: float(matrix[row, i]) for i, name in enumerate(FEATURES)}
