"""ShopSense product search: the one entry point the CLI and the API call.

A query goes: understanding (price phrases, brand and colour words -> filters) ->
lexical retrieval (tantivy BM25, typo tolerant) and semantic retrieval (MiniLM + usearch),
both under the filters -> fusion (weighted or RRF) -> optional learning-to-rank ->
optional personalization -> sort -> facets over all results -> one page.

Example::

    >>> from shopsense.search import SearchEngine, Filters
    >>> engine = SearchEngine.build(products)                           # doctest: +SKIP
    >>> result = engine.search("waterproof running shoes under 80",      # doctest: +SKIP
    ...                        filters=Filters(in_stock=True), page_size=10)
    >>> [(h.id, h.explanation) for h in result.items[:2]]                # doctest: +SKIP
    >>> engine.suggest("runn")                                           # doctest: +SKIP
    ['running', 'running shoe', ...]
    >>> engine.did_you_mean("runnign shoes")                             # doctest: +SKIP
    'running shoes'
    >>> engine.upsert([new_product]); engine.remove(["P00017"])          # doctest: +SKIP
    >>> engine.save(bundle / "search")                                   # doctest: +SKIP
    >>> same = SearchEngine.load(bundle / "search")                      # doctest: +SKIP

``search(query, user_id=None, filters=None, sort="relevance", page=1, page_size=20,
facets=True, history=None, personalize=True, rerank=True)`` returns a
:class:`~shopsense.search.result.SearchResult`; ``sort`` is one of :data:`SORTS`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from shopsense.domain import Product
from shopsense.errors import ConfigError, ModelError
from shopsense.features.embedding_store import EmbeddingStore, encoder_id
from shopsense.features.text import FloatMatrix, TextEncoder, default_encoder
from shopsense.index.lexical import LexicalIndex
from shopsense.index.vectors import VectorIndex
from shopsense.ranking.search_ranker import SearchRanker
from shopsense.search.features import FEATURES
from shopsense.search.filters import Filters, facet_counts
from shopsense.search.personalize import Affinity, affinity_parts, blend
from shopsense.search.result import SearchHit, SearchResult
from shopsense.search.retrieval import Candidates, Retriever
from shopsense.search.rows import ProductRows
from shopsense.search.spelling import spell_query

logger = logging.getLogger(__name__)

Scores = npt.NDArray[np.float32]
SORTS = ("relevance", "price_asc", "price_desc", "popularity", "newest")
#: Per-feature contributions of the ranker an explained hit lists (the largest first).
EXPLAINED_FEATURES = 5


@dataclass(frozen=True)
class SearchConfig:
    """Knobs of the search pipeline (defaults measured on esci-sample, see docs/search.md)."""

    lexical_k: int = 200
    semantic_k: int = 100
    min_similarity: float = 0.35
    fusion: str = "weighted"
    lexical_weight: float = 0.5
    rrf_k: float = 60.0
    typo_tolerance: bool = True
    understand: bool = True
    #: Brand and colour words as filters too (price phrases always are). Off by default:
    #: on esci-sample's retrieval protocol they cut hybrid NDCG@10 from 0.664 to 0.617
    #: (noisy brand / colour fields, brand names that are also words); the words still
    #: reach the ranker's brand / colour features. Turn on for clean catalog data.
    intent_filters: bool = False
    rerank_depth: int = 100
    personal_depth: int = 50
    personal_weight: float = 0.5
    #: How far products with the shopper's excluded words ("without mugs") drop, as a share
    #: of the query's score range (0 = not at all, 1 = down to the lowest product without them).
    exclusion_penalty: float = 0.5
    facet_attributes: tuple[str, ...] = ("color", "size")
    max_page_size: int = 100

    def __post_init__(self) -> None:
        if self.fusion not in ("weighted", "zscore", "rrf"):
            raise ConfigError(f"unknown fusion {self.fusion!r}; use weighted, zscore or rrf")
        if not 0.0 <= self.lexical_weight <= 1.0:
            raise ConfigError("lexical_weight must be between 0 and 1")
        if self.exclusion_penalty < 0:
            raise ConfigError("exclusion_penalty must be >= 0")


class SearchEngine:
    """Hybrid product search over one catalog; thread-safe for concurrent searches."""

    def __init__(
        self,
        config: SearchConfig | None = None,
        encoder: TextEncoder | None = None,
        lexical_path: Path | None = None,
    ) -> None:
        self.config = config or SearchConfig()
        self.encoder = encoder or default_encoder()
        self.rows = ProductRows()
        self.lexical = LexicalIndex(lexical_path)
        self.vectors = VectorIndex(self.encoder.dimension)
        self.retriever = Retriever(self.rows, self.lexical, self.vectors, self.encoder)
        self.ranker: SearchRanker | None = None
        self.personalizer: Affinity | None = None
        #: Where product embeddings are looked up before the encoder runs (optional).
        self.embeddings: EmbeddingStore | None = None
        self._write_lock = threading.Lock()

    @classmethod
    def build(
        cls,
        products: Iterable[Product],
        config: SearchConfig | None = None,
        encoder: TextEncoder | None = None,
        popularity: Mapping[str, float] | None = None,
        batch_size: int = 2048,
        personalizer: Affinity | None = None,
        ranker: SearchRanker | None = None,
        embeddings: EmbeddingStore | None = None,
    ) -> SearchEngine:
        """An engine over ``products`` (any iterable, e.g. ``store.catalog.iter_products()``
        flattened); ``popularity`` per product id feeds the popularity sort and the ranker;
        ``personalizer`` (e.g. ``ModelAffinity(als)``) enables ``user_id`` / ``history``
        re-ranking; ``ranker`` a trained :class:`SearchRanker`; ``embeddings`` a store of
        vectors from earlier builds (only new or edited products are then encoded; the
        store is saved at the end)."""
        engine = cls(config, encoder)
        engine.personalizer = personalizer
        engine.ranker = ranker
        engine.embeddings = embeddings
        batch: list[Product] = []
        for product in products:
            batch.append(product)
            if len(batch) >= batch_size:
                engine.upsert(batch)
                batch = []
        engine.upsert(batch)
        if popularity:
            engine.rows.set_popularity(popularity)
        if embeddings is not None:
            embeddings.save()
        return engine

    # -- catalog changes, no rebuild ------------------------------------------------------

    def __len__(self) -> int:
        return len(self.rows)

    def upsert(self, products: Sequence[Product], vectors: FloatMatrix | None = None) -> None:
        """Add new products and replace changed ones (text, price, stock...) in both indexes.

        ``vectors``: precomputed embeddings ``(len(products), dim)`` of ``product_text``
        (e.g. from a cache); by default the encoder embeds the products.
        """
        if not products:
            return
        if vectors is None or len(vectors) != len(products):
            products = list({p.id: p for p in products}.values())
            texts = [self.encoder.product_text(p) for p in products]
            if self.embeddings is None:
                vectors = self.encoder.encode(texts)
            else:
                vectors = self.embeddings.encode(texts, self.encoder.encode)
        with self._write_lock:
            rows = self.rows.assign(products)
            self.lexical.upsert(zip(rows.tolist(), products, strict=True))
            self.vectors.upsert(rows, vectors)
            self.retriever.invalidate()

    def remove(self, product_ids: Sequence[str]) -> int:
        """Remove products by id; returns how many were in the index."""
        with self._write_lock:
            rows = self.rows.release(product_ids)
            self.lexical.remove(rows.tolist())
            self.vectors.remove(rows)
            self.retriever.invalidate()
        return len(rows)

    def set_popularity(self, popularity: Mapping[str, float]) -> None:
        self.rows.set_popularity(popularity)

    # -- searching ------------------------------------------------------------------------

    def search(
        self,
        query: str,
        user_id: str | None = None,
        filters: Filters | None = None,
        sort: str = "relevance",
        page: int = 1,
        page_size: int = 20,
        facets: bool = True,
        history: Sequence[str] | None = None,
        personalize: bool = True,
        rerank: bool = True,
        explain: bool = False,
    ) -> SearchResult:
        """One page of results for ``query`` (see the module docstring).

        ``explain``: each hit also carries ``why``, what placed it: ``matched_terms`` (query
        words in its title), ``lexical`` (BM25 of the query over its text, 0 without a word
        match), ``semantic`` (cosine similarity of the query's and the product's
        embeddings), ``understood`` (filters read from the query); with a learning-to-rank
        model, ``ranker`` (its score, the expected score, and the largest per-feature
        contributions, LightGBM's SHAP values); when personalized, ``personal`` (the
        shopper's z-scored affinity and the weight it was blended with).
        """
        began = time.perf_counter()
        if sort not in SORTS:
            raise ConfigError(f"unknown sort {sort!r}; choose from {', '.join(SORTS)}")
        if page < 1 or not 1 <= page_size <= self.config.max_page_size:
            raise ConfigError(
                f"page must be >= 1 and page_size between 1 and {self.config.max_page_size}"
            )
        config = self.config
        found = self.retriever.retrieve(query, filters or Filters(), config)
        scores = self.retriever.fuse(found.evidence, config)
        reranked = False
        parts: dict[str, dict[int, dict[str, object]]] = {"ranker": {}, "personal": {}}
        if rerank and self.ranker is not None and len(found.rows):
            scores = self._rerank(found, scores, parts["ranker"] if explain else None)
            reranked = True
        personalized = False
        if personalize and self.personalizer is not None and len(found.rows):
            ids = [self.rows.product(int(r)).id for r in found.rows]
            affinity = self.personalizer.affinity(user_id, history, ids)
            if affinity is not None:
                if explain:
                    z = affinity_parts(scores, affinity, config.personal_depth)
                    parts["personal"] = {
                        int(i): {"affinity_z": float(z[i]), "weight": config.personal_weight}
                        for i in np.flatnonzero(np.isfinite(z))
                    }
                scores = blend(scores, affinity, config.personal_weight, config.personal_depth)
                personalized = True
        order = self._order(found, scores, sort)
        start = (page - 1) * page_size
        hits = [
            self._hit(found, int(i), float(scores[i]), parts if explain else None)
            for i in order[start : start + page_size]
        ]
        facet_table = {}
        if facets and len(found.rows):
            products = [self.rows.product(int(r)) for r in found.rows]
            facet_table = facet_counts(products, config.facet_attributes)
        return SearchResult(
            query=query,
            items=hits,
            total=len(found.rows),
            page=page,
            page_size=page_size,
            sort=sort,
            facets=facet_table,
            filters=found.filters.as_dict(),
            understood=found.understood,
            personalized=personalized,
            reranked=reranked,
            took_ms=(time.perf_counter() - began) * 1000.0,
        )

    def _rerank(
        self, found: Candidates, scores: Scores, why: dict[int, dict[str, object]] | None = None
    ) -> Scores:
        """The ranker's scores for the top ``rerank_depth``, the rest below them in order;
        ``why`` (when given) gets each re-ranked candidate's score and largest per-feature
        contributions."""
        assert self.ranker is not None
        order = np.argsort(-scores, kind="stable")
        head = order[: self.config.rerank_depth]
        features = self.retriever.features(found, head)
        learned = self.ranker.predict(features)
        if why is not None:
            names = self.ranker.features_
            contributions = self.ranker.contributions(features)
            for i, row, score in zip(head, contributions, learned, strict=True):
                largest = np.argsort(-np.abs(row[:-1]), kind="stable")[:EXPLAINED_FEATURES]
                why[int(i)] = {
                    "score": float(score),
                    "expected": float(row[-1]),
                    "contributions": [
                        {"feature": names[k], "value": float(row[k])} for k in largest
                    ],
                }
        result = np.asarray(scores, np.float32).copy()
        floor = float(learned.min()) if len(learned) else 0.0
        result[head] = learned
        tail = order[len(head) :]
        result[tail] = floor - 1.0 - np.arange(1, len(tail) + 1, dtype=np.float32)
        return result

    def _order(self, found: Candidates, scores: Scores, sort: str) -> npt.NDArray[np.intp]:
        relevance = np.argsort(-scores, kind="stable")
        if sort == "relevance":
            return relevance
        products = [self.rows.product(int(found.rows[i])) for i in relevance]
        if sort in ("price_asc", "price_desc"):
            sign = 1.0 if sort == "price_asc" else -1.0
            key = [sign * p.price if p.price is not None else np.inf for p in products]
        elif sort == "popularity":
            key = list(-self.rows.popularity[found.rows[relevance]])
        else:
            key = [-p.created_at.timestamp() if p.created_at else np.inf for p in products]
        return relevance[np.argsort(np.asarray(key, np.float64), kind="stable")]

    def _hit(
        self,
        found: Candidates,
        i: int,
        score: float,
        parts: Mapping[str, Mapping[int, dict[str, object]]] | None = None,
    ) -> SearchHit:
        product = self.rows.product(int(found.rows[i]))
        why: dict[str, object] | None = None
        if parts is not None:
            why = {
                "matched_terms": self.retriever.matched_terms(found, i),
                "lexical": float(found.evidence.bm25[i]),
                "semantic": float(found.evidence.cosine[i]),
                "understood": list(found.understood),
            }
            why |= {name: by_row[i] for name, by_row in parts.items() if i in by_row}
        return SearchHit(
            id=product.id,
            score=score,
            title=product.title,
            brand=product.brand,
            category=product.category_path,
            price=product.price,
            in_stock=product.in_stock,
            explanation=self.retriever.explain(found, i),
            lexical_score=float(found.evidence.bm25[i]),
            semantic_score=float(found.evidence.cosine[i]),
            why=why,
        )

    def suggest(self, prefix: str, n: int = 10) -> list[str]:
        """Completions of what the shopper is typing: the last word completed from the
        catalog's words, counted only in products that contain the earlier words."""
        typed = prefix.lower().split()
        if not typed:
            return []
        context, last = typed[:-1], typed[-1]
        if prefix.endswith(" "):
            context, last = typed, ""
        head = " ".join(context)
        words = self.lexical.complete(last, context, n + len(context))
        out = [f"{head} {w}".strip() for w in words if w not in context]
        return out[:n]

    def suggest_products(self, prefix: str, n: int = 5) -> list[Product]:
        """Products whose titles match what the shopper is typing (the last word completed
        as :meth:`suggest` does), best title match first: quick links under a search box."""
        completed = self.suggest(prefix, 1)
        text = completed[0] if completed else prefix
        rows, _ = self.lexical.search(text, n, fields=("title",), typo_tolerance=False)
        return [self.rows.product(int(r)) for r in rows]

    def did_you_mean(self, query: str) -> str | None:
        """``query`` with its misspelt words replaced by the catalog's closest words
        (:mod:`shopsense.search.spelling`), or ``None`` when every word is known."""
        return spell_query(query, self.lexical)

    # -- persistence ----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write the engine (products, both indexes, the ranker) under ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        with self._write_lock:
            self.rows.save(directory)
            self.vectors.save(directory / "vectors")
            if self.ranker is not None:
                self.ranker.save(directory / "ranker")
            saved = {**asdict(self.config), "encoder": encoder_id(self.encoder)}
            (directory / "search.json").write_text(json.dumps(saved, indent=1))

    @classmethod
    def load(
        cls, directory: Path, encoder: TextEncoder | None = None, config: SearchConfig | None = None
    ) -> SearchEngine:
        """Read an engine written by :meth:`save`; the lexical index is rebuilt from the
        products (tantivy indexes ~20k products/s), the vectors are read back as saved."""
        try:
            saved = json.loads((directory / "search.json").read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"no search engine saved in {directory}: {exc}") from exc
        saved["facet_attributes"] = tuple(saved.get("facet_attributes", ()))
        built_with = saved.pop("encoder", None)
        engine = cls(config or SearchConfig(**saved), encoder)
        if built_with is not None and built_with != encoder_id(engine.encoder):
            # Vectors from another encoder live in another space: searching them is garbage.
            raise ModelError(
                f"the search engine in {directory} was built with the encoder {built_with}, "
                f"not {encoder_id(engine.encoder)}; rebuild it (shopsense search rebuilds "
                "it automatically)"
            )
        engine.rows = ProductRows.load(directory)
        engine.vectors = VectorIndex.load(directory / "vectors")
        engine.retriever = Retriever(engine.rows, engine.lexical, engine.vectors, engine.encoder)
        live = [(row, p) for row, p in enumerate(engine.rows.products) if p is not None]
        engine.lexical.upsert(live)
        if (directory / "ranker").is_dir():
            engine.ranker = SearchRanker.load(directory / "ranker", FEATURES)
        return engine

    def with_config(self, **changes: object) -> SearchEngine:
        """A view of this engine with other knobs (shares indexes; for evaluation sweeps)."""
        other = object.__new__(SearchEngine)
        other.__dict__.update(self.__dict__)
        other.config = replace(self.config, **changes)  # type: ignore[arg-type]
        return other
