"""BM25 full-text index over products on tantivy: field boosts, stemming, typos, prefixes.

Each product is one tantivy document keyed by an integer ``row`` (a fast field, so hits
map back to rows without reading stored documents). Text fields use the ``en_stem``
analyzer (lower case, Porter stemming: "shoes" matches "shoe"); a ``words`` field keeps
the unstemmed words of title, brand and category for typo-tolerant fuzzy terms and
autocomplete. Filters are exact keyword fields (brand, category prefixes, ``key=value``
attributes) and fast numeric fields (price, stock), so a filtered query stays one
tantivy query.

Example::

    >>> index = LexicalIndex()
    >>> index.upsert([(0, product)])                                   # doctest: +SKIP
    >>> rows, scores = index.search("waterprof running shoes", limit=50)  # doctest: +SKIP
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import tantivy

from shopsense.domain import Product

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

#: BM25 field boosts: the title says what a product is, brand and category narrow it, long
#: descriptions match many words by chance. Picked on esci-sample's re-ranking protocol
#: (benchmarks/results/search.md): title 5 / description 0.5 gives 0.705 NDCG@10 there,
#: 3 / 1.5 / 1.5 / 1 gives 0.690.
DEFAULT_BOOSTS: dict[str, float] = {
    "title": 5.0,
    "brand": 2.0,
    "category": 1.0,
    "description": 0.5,
}
TEXT_FIELDS = tuple(DEFAULT_BOOSTS)


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters and digits), as the query side sees them."""
    return _WORD.findall(text.lower())


def category_prefixes(category: Sequence[str]) -> list[str]:
    """``("Home", "Kitchen")`` -> ``["home", "home > kitchen"]`` (the filter keys)."""
    return [" > ".join(category[: i + 1]).lower() for i in range(len(category))]


def attribute_keys(product: Product) -> list[str]:
    """``{"color": "Blue"}`` -> ``["color=blue"]`` (the attribute filter keys)."""
    return [f"{k.lower()}={str(v).lower()}" for k, v in product.attributes.items()]


@dataclass(frozen=True)
class LexicalFilter:
    """Restrictions pushed into the tantivy query; ``None`` / empty means no restriction.

    Values inside one tuple are alternatives (OR); different fields combine with AND.
    ``attributes`` holds one tuple of ``key=value`` alternatives per attribute.
    """

    brands: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    attributes: tuple[tuple[str, ...], ...] = ()
    price_min: float | None = None
    price_max: float | None = None
    in_stock: bool | None = None
    rows: tuple[int, ...] | None = field(default=None)

    def is_empty(self) -> bool:
        return (
            not (self.brands or self.categories or self.attributes)
            and self.price_min is None
            and self.price_max is None
            and self.in_stock is None
            and self.rows is None
        )


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("row", stored=False, indexed=True, fast=True)
    for name in TEXT_FIELDS:
        builder.add_text_field(name, stored=False, tokenizer_name="en_stem")
    builder.add_text_field("words", stored=False, tokenizer_name="default")
    for name in ("brand_key", "category_key", "attribute_key"):
        builder.add_text_field(name, stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_float_field("price", stored=False, indexed=True, fast=True)
    builder.add_integer_field("in_stock", stored=False, indexed=True, fast=True)
    return builder.build()


class LexicalIndex:
    """tantivy index of products; in memory, or on disk under ``path``.

    ``boosts`` weight each text field's BM25; ``all_words_boost`` adds a bonus for titles
    that contain every query word (a cheap proximity signal; 0 switches it off).

    Writes (:meth:`upsert`, :meth:`remove`) commit at once, so the next search sees them.
    """

    def __init__(
        self,
        path: Path | None = None,
        boosts: dict[str, float] | None = None,
        writer_memory: int = 64_000_000,
        all_words_boost: float = 0.5,
    ) -> None:
        self.boosts = dict(boosts or DEFAULT_BOOSTS)
        self.all_words_boost = all_words_boost
        self.path = path
        self._schema = _schema()
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
            self._index = tantivy.Index(self._schema, path=str(path), reuse=True)
        else:
            self._index = tantivy.Index(self._schema)
        self._writer_memory = writer_memory
        self._lock = threading.Lock()
        self._searcher = self._index.searcher()

    # -- writing --------------------------------------------------------------------------

    def upsert(self, products: Iterable[tuple[int, Product]]) -> None:
        """Add or replace products, each under its engine ``row``; one commit."""
        with self._lock:
            writer = self._index.writer(self._writer_memory, 1)
            for row, product in products:
                writer.delete_documents_by_term("row", row)
                writer.add_document(self._document(row, product))
            writer.commit()
            writer.wait_merging_threads()
            self._refresh()

    def remove(self, rows: Iterable[int]) -> None:
        with self._lock:
            writer = self._index.writer(self._writer_memory, 1)
            for row in rows:
                writer.delete_documents_by_term("row", row)
            writer.commit()
            writer.wait_merging_threads()
            self._refresh()

    def _refresh(self) -> None:
        self._index.reload()
        self._searcher = self._index.searcher()

    @staticmethod
    def _document(row: int, product: Product) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_integer("row", row)
        doc.add_text("title", product.title)
        if product.brand:
            doc.add_text("brand", product.brand)
            doc.add_text("brand_key", product.brand.lower())
        category = " ".join(product.category)
        # Words of text attributes (colour, material...), not numbers such as ratings.
        attribute_text = " ".join(v for v in product.attributes.values() if isinstance(v, str))
        doc.add_text("category", f"{category} {attribute_text}".strip())
        doc.add_text("description", product.description)
        doc.add_text("words", f"{product.title} {product.brand or ''} {category}")
        for key in category_prefixes(product.category):
            doc.add_text("category_key", key)
        for key in attribute_keys(product):
            doc.add_text("attribute_key", key)
        if product.price is not None:
            doc.add_float("price", float(product.price))
        doc.add_integer("in_stock", int(product.in_stock))
        return doc

    # -- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._searcher.num_docs)

    def has_word(self, word: str) -> bool:
        """Whether ``word`` occurs (unstemmed) in some title, brand or category."""
        return bool(self._searcher.doc_freq("words", word) > 0)

    def terms(self, prefix: str, limit: int | None = None) -> list[tuple[str, int]]:
        """The catalog's words (unstemmed, from titles, brands and categories) that begin
        with ``prefix``, with their document counts, most frequent first."""
        return list(self._searcher.terms_with_prefix("words", prefix.lower(), limit=limit))

    def _text_query(
        self, text: str, fields: Sequence[str], typo_tolerance: bool
    ) -> tantivy.Query | None:
        tokens = words(text)
        if not tokens:
            return None
        boosts = {f: self.boosts.get(f, 1.0) for f in fields}
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        parsed = self._index.parse_query(" ".join(tokens), list(fields), field_boosts=boosts)
        clauses.append((tantivy.Occur.Should, parsed))
        if self.all_words_boost > 0 and len(tokens) > 1 and "title" in fields:
            # Titles containing every query word get a bonus on top of plain BM25.
            every = self._index.parse_query(
                " ".join(tokens), ["title"], conjunction_by_default=True
            )
            clauses.append(
                (tantivy.Occur.Should, tantivy.Query.boost_query(every, self.all_words_boost))
            )
        if typo_tolerance:
            for token in tokens:
                # Fuzzy terms only for longer words the catalog does not know: a real word
                # should not also match its neighbours ("shirt" / "short").
                if len(token) < 5 or token.isdigit() or self.has_word(token):
                    continue
                distance = 1 if len(token) < 8 else 2
                fuzzy = tantivy.Query.fuzzy_term_query(
                    self._schema, "words", token, distance=distance, transposition_cost_one=True
                )
                clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(fuzzy, 2.0)))
        return tantivy.Query.boolean_query(clauses)

    def _filter_clauses(self, where: LexicalFilter) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        schema = self._schema
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        groups = [("brand_key", where.brands), ("category_key", where.categories)]
        groups += [("attribute_key", values) for values in where.attributes]
        for name, values in groups:
            if values:
                terms = [v.lower() for v in values]
                clauses.append(
                    (tantivy.Occur.Must, tantivy.Query.term_set_query(schema, name, terms))
                )
        if where.price_min is not None or where.price_max is not None:
            price = tantivy.Query.range_query(
                schema, "price", tantivy.FieldType.Float, where.price_min, where.price_max
            )
            clauses.append((tantivy.Occur.Must, price))
        if where.in_stock is not None:
            stock = tantivy.Query.term_query(schema, "in_stock", int(where.in_stock))
            clauses.append((tantivy.Occur.Must, stock))
        if where.rows is not None:
            rows = tantivy.Query.term_set_query(schema, "row", list(where.rows))
            clauses.append((tantivy.Occur.Must, rows))
        return clauses

    def search(
        self,
        text: str,
        limit: int = 200,
        where: LexicalFilter | None = None,
        fields: Sequence[str] = TEXT_FIELDS,
        typo_tolerance: bool = True,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Rows and BM25 scores of the best ``limit`` matches, best first.

        ``fields`` restricts the text match (e.g. ``("title",)`` for a per-field score);
        ``where`` restricts the documents. A query with no words matches nothing.
        """
        query = self._text_query(text, fields, typo_tolerance)
        if query is None or limit <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        if where is not None and not where.is_empty():
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, query), *self._filter_clauses(where)]
            )
        searcher = self._searcher
        hits = searcher.search(query, limit, count=False).hits
        if not hits:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        rows = searcher.fast_field_values("row", [address for _, address in hits])
        return (
            np.asarray(rows, dtype=np.int64),
            np.asarray([score for score, _ in hits], dtype=np.float32),
        )

    def count(self, where: LexicalFilter) -> int:
        """Number of products passing ``where`` (no text)."""
        clauses = self._filter_clauses(where)
        if not clauses:
            return len(self)
        query = tantivy.Query.boolean_query(clauses)
        found = self._searcher.search(query, 1, count=True)
        return int(found.count)  # type: ignore[attr-defined]

    def filter_rows(self, where: LexicalFilter, limit: int) -> npt.NDArray[np.int64]:
        """Rows passing ``where`` (up to ``limit``), for browsing without a text query."""
        clauses = self._filter_clauses(where)
        query = tantivy.Query.boolean_query(clauses) if clauses else tantivy.Query.all_query()
        hits = self._searcher.search(query, limit, count=False).hits
        rows = self._searcher.fast_field_values("row", [a for _, a in hits]) if hits else []
        return np.asarray(rows, dtype=np.int64)

    def complete(self, prefix: str, context: Sequence[str] = (), n: int = 10) -> list[str]:
        """Words starting with ``prefix``, most frequent first; with ``context`` words, counted
        only in products that also contain all of them (so completions fit the query)."""
        prefix = prefix.lower()
        filter_query = None
        if context:
            clauses = [
                (
                    tantivy.Occur.Must,
                    tantivy.Query.term_query(self._schema, "words", word.lower()),
                )
                for word in context
            ]
            filter_query = tantivy.Query.boolean_query(clauses)
        terms = self._searcher.terms_with_prefix(
            "words", prefix, filter_query=filter_query, limit=n * 3
        )
        return [term for term, count in terms if count > 0][:n]
