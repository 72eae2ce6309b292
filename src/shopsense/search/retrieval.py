"""Candidate retrieval: lexical and semantic hits under filters, merged into one set.

:class:`Retriever` is the engine's inner loop, kept apart so evaluation can score a fixed
set of products (the re-ranking protocol) with exactly the evidence search uses.

Example::

    >>> from shopsense.search.engine import SearchConfig
    >>> config = SearchConfig()
    >>> found = retriever.retrieve("grey sofa under 500", Filters(), config)  # doctest: +SKIP
    >>> scores = retriever.fuse(found.evidence, config)                       # doctest: +SKIP
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from cachetools import FIFOCache

from shopsense.features.text import TextEncoder
from shopsense.index.lexical import TEXT_FIELDS, LexicalIndex, words
from shopsense.index.vectors import VectorIndex
from shopsense.search.features import Evidence, excluded_share, search_features
from shopsense.search.filters import Filters
from shopsense.search.fusion import demote, ranks, rrf, weighted
from shopsense.search.query import ParsedQuery, parse_query
from shopsense.search.rows import ProductRows

if TYPE_CHECKING:
    from shopsense.search.engine import SearchConfig

Rows = npt.NDArray[np.int64]


@dataclass
class Candidates:
    """The result set of one query before ordering; arrays are aligned with ``rows``."""

    rows: Rows
    evidence: Evidence
    filters: Filters
    understood: list[str]


class Retriever:
    """Lexical + semantic retrieval over the engine's indexes."""

    def __init__(
        self,
        rows: ProductRows,
        lexical: LexicalIndex,
        vectors: VectorIndex,
        encoder: TextEncoder,
        mask_cache: int = 256,
    ) -> None:
        self.rows = rows
        self.lexical = lexical
        self.vectors = vectors
        self.encoder = encoder
        # Searches run on several threads; cachetools' caches are not thread-safe.
        self._masks: FIFOCache[str, npt.NDArray[np.bool_]] = FIFOCache(maxsize=max(mask_cache, 0))
        self._masks_lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget cached filter masks (after catalog changes)."""
        with self._masks_lock:
            self._masks.clear()

    def _allowed(self, filters: Filters) -> npt.NDArray[np.bool_] | None:
        """Mask of rows passing ``filters`` (cached per filter), for the vector search."""
        if filters.is_empty():
            return None
        key = repr(filters.to_lexical())
        with self._masks_lock:
            mask = self._masks.get(key)
        if mask is None:
            rows = self.lexical.filter_rows(filters.to_lexical(), limit=max(len(self.rows), 1))
            mask = np.zeros(len(self.rows.products), bool)
            mask[rows] = True
            with self._masks_lock:
                if self._masks.maxsize:
                    self._masks[key] = mask
        return mask

    def parse(self, query: str, understand: bool) -> ParsedQuery:
        if not understand:
            return ParsedQuery(original=query, text=" ".join(query.split()))
        return parse_query(query, self.rows.brands())

    def retrieve(self, query: str, filters: Filters, config: SearchConfig) -> Candidates:
        parsed = self.parse(query, config.understand)
        inferred = Filters(price_min=parsed.price_min, price_max=parsed.price_max)
        strict = filters.merged(inferred)
        soft = strict
        if not config.intent_filters:
            return self._retrieve(parsed, strict, config)
        if parsed.brands and not filters.brands:
            soft = replace(soft, brands=parsed.brands)
        if parsed.colours and not filters.attributes:
            soft = replace(soft, attributes={"color": list(parsed.colours)})
        found = self._retrieve(parsed, soft, config)
        if soft is not strict and len(found.rows) == 0:
            # The brand or colour reading was wrong (or nothing matches it): drop it.
            found = self._retrieve(parsed, strict, config)
        return found

    def _retrieve(self, parsed: ParsedQuery, filters: Filters, config: SearchConfig) -> Candidates:
        where = filters.to_lexical()
        lexical_rows, bm25 = self.lexical.search(
            parsed.text, config.lexical_k, where, typo_tolerance=config.typo_tolerance
        )
        query_vector = self.encoder.encode_query(parsed.text or parsed.original)
        semantic_rows, cosine = self.vectors.search(
            query_vector, config.semantic_k, self._allowed(filters)
        )
        keep = cosine >= config.min_similarity
        semantic_rows, cosine = semantic_rows[keep], cosine[keep]
        if not parsed.text.strip():  # browsing: a filter, or a bare price phrase
            semantic_rows = self.lexical.filter_rows(where, config.lexical_k)
        rows = np.asarray(list(dict.fromkeys([*lexical_rows.tolist(), *semantic_rows.tolist()])))
        rows = rows.astype(np.int64)
        evidence = self._evidence(parsed, rows, (lexical_rows, bm25), semantic_rows, query_vector)
        notes = [n for n in parsed.notes if _applied(n, filters)]
        return Candidates(rows=rows, evidence=evidence, filters=filters, understood=notes)

    def _evidence(
        self,
        parsed: ParsedQuery,
        rows: Rows,
        lexical: tuple[Rows, npt.NDArray[np.float32]],
        semantic_rows: Rows,
        query_vector: npt.NDArray[np.float32],
    ) -> Evidence:
        position = {int(r): i for i, r in enumerate(rows)}
        bm25 = np.zeros(len(rows), np.float32)
        lexical_rank = np.full(len(rows), np.inf, np.float32)
        for rank, (row, score) in enumerate(zip(*lexical, strict=True)):
            bm25[position[int(row)]] = score
            lexical_rank[position[int(row)]] = rank + 1
        cosine = self.vectors.similarity(query_vector, rows).astype(np.float32)
        semantic_rank = np.full(len(rows), np.inf, np.float32)
        for rank, row in enumerate(semantic_rows.tolist()):
            semantic_rank[position[row]] = rank + 1
        titles = [self.rows.product(int(r)).title for r in rows] if parsed.excluded else []
        return Evidence(
            parsed,
            bm25,
            cosine,
            lexical_rank,
            semantic_rank,
            excluded=excluded_share(parsed, titles),
        )

    def judge(self, query: str, rows: Rows, understand: bool = False) -> Candidates:
        """Evidence for a fixed set of ``rows`` (re-ranking protocol): BM25 and ranks are
        computed within the set, as if retrieval had returned exactly these products."""
        parsed = self.parse(query, understand)
        where = Filters().to_lexical(rows=tuple(int(r) for r in rows))
        lexical = self.lexical.search(parsed.text, len(rows), where)
        query_vector = self.encoder.encode_query(parsed.text or parsed.original)
        cosine = self.vectors.similarity(query_vector, rows)
        semantic_rows = rows[np.argsort(-cosine, kind="stable")]
        evidence = self._evidence(parsed, rows, lexical, semantic_rows, query_vector)
        return Candidates(rows=rows, evidence=evidence, filters=Filters(), understood=[])

    @staticmethod
    def fuse(evidence: Evidence, config: SearchConfig) -> npt.NDArray[np.float32]:
        """One relevance score per candidate from BM25 and cosine (shape ``(n,)``)."""
        if config.fusion == "rrf":
            lexical_present = np.isfinite(evidence.lexical_rank)
            semantic_present = np.isfinite(evidence.semantic_rank)
            fused = rrf(
                [-evidence.lexical_rank, -evidence.semantic_rank],
                config.rrf_k,
                [lexical_present, semantic_present],
            )
        else:
            normalise = "z" if config.fusion == "zscore" else "max"
            fused = weighted(evidence.bm25, evidence.cosine, config.lexical_weight, normalise)
        return demote(fused, evidence.excluded, config.exclusion_penalty)

    def features(self, found: Candidates, subset: npt.NDArray[np.intp]) -> npt.NDArray[np.float32]:
        """LTR features of the candidates at positions ``subset`` (adds per-field BM25)."""
        rows = found.rows[subset]
        ev = found.evidence
        sub = Evidence(
            ev.parsed,
            ev.bm25[subset],
            ev.cosine[subset],
            ranks(-ev.lexical_rank[subset], np.isfinite(ev.lexical_rank[subset])),
            ranks(-ev.semantic_rank[subset], np.isfinite(ev.semantic_rank[subset])),
            excluded=None if ev.excluded is None else ev.excluded[subset],
        )
        position = {int(r): i for i, r in enumerate(rows)}
        where = Filters().to_lexical(rows=tuple(position))
        for name in TEXT_FIELDS:
            values = np.zeros(len(rows), np.float32)
            hit_rows, scores = self.lexical.search(
                ev.parsed.text, len(rows), where, fields=(name,), typo_tolerance=False
            )
            for row, score in zip(hit_rows.tolist(), scores.tolist(), strict=True):
                values[position[row]] = score
            sub.bm25_fields[name] = values
        products = [self.rows.product(int(r)) for r in rows]
        return search_features(sub, products, self.rows.popularity[rows])

    def matched_terms(self, found: Candidates, i: int) -> list[str]:
        """The query words candidate ``i``'s title holds (a plural matching its singular)."""
        product = self.rows.product(int(found.rows[i]))
        title = set(words(product.title))
        query_words = words(found.evidence.parsed.text)
        return [w for w in query_words if w in title or w.rstrip("s") in title]

    def explain(self, found: Candidates, i: int) -> str:
        """Why candidate ``i`` is in the results, in a few words."""
        if not found.evidence.parsed.text.strip():  # "under 80", " ": no words to match
            return "; ".join(["no search words: chosen by the filters", *found.understood])
        matched = self.matched_terms(found, i)
        parts = []
        if matched:
            parts.append("matches " + ", ".join(f"'{w}'" for w in matched) + " in the title")
        elif found.evidence.bm25[i] > 0:
            parts.append(f"matches '{found.evidence.parsed.text}' in its description")
        if found.evidence.cosine[i] >= 0.5 or not parts:
            parts.append(f"close in meaning to '{found.evidence.parsed.text}'")
        parts += found.understood
        return "; ".join(parts)


def _applied(note: str, filters: Filters) -> bool:
    if note.startswith("brand:"):
        return bool(filters.brands)
    if note.startswith("colour:"):
        return bool(filters.attributes)
    return True
