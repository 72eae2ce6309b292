"""The server's search engine: built in the background, kept in step with the catalog.

Building embeds every product (the MiniLM encoder), which takes minutes on a large
catalog, so the server starts answering recommendations at once and ``/search`` says
"building" (503) until the index is ready. Vectors are kept in an
:class:`~shopsense.features.embedding_store.EmbeddingStore` under the data directory, so a
restart encodes only products added or edited since the last one. Products upserted
meanwhile are applied after the build; afterwards each upsert reaches the index before the
PUT returns.

Example::

    >>> service = SearchService(enabled=True)                         # doctest: +SKIP
    >>> service.start(catalog.products())                             # doctest: +SKIP
    >>> service.engine().search("rain jacket").items[0].title         # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shopsense.api.heap import settle_heap
from shopsense.domain import Product
from shopsense.errors import ConfigError, ShopSenseError
from shopsense.features.embedding_store import EmbeddingStore

if TYPE_CHECKING:
    from shopsense.recommend import ModelSet
    from shopsense.search import SearchEngine

log = logging.getLogger(__name__)


class SearchUnavailableError(ShopSenseError):
    """Search is disabled, still building, or failed to build."""


class SearchService:
    """Holds the :class:`~shopsense.search.SearchEngine` once it is built."""

    def __init__(
        self, enabled: bool = True, embeddings_dir: Path | None = None, encoder: str = "minilm"
    ) -> None:
        self.enabled = enabled
        self.embeddings_dir = embeddings_dir
        self.encoder = encoder
        self._embeddings: EmbeddingStore | None = None
        self.status = "disabled" if not enabled else "not started"
        self.error: str | None = None
        self._engine: SearchEngine | None = None
        self._pending: list[Product] = []
        self._removed: list[str] = []
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self._models: ModelSet | None = None

    def start(self, products: Sequence[Product]) -> None:
        """Build the index in a background thread."""
        if not self.enabled:
            return
        self.status = "building"
        threading.Thread(
            target=self._build, args=(list(products),), daemon=True, name="shopsense-search"
        ).start()

    def _build(self, products: list[Product]) -> None:
        try:
            from shopsense.features.embedding_store import embedding_store
            from shopsense.features.text import default_encoder
            from shopsense.search import SearchEngine

            encoder = default_encoder(self.encoder)
            if self.embeddings_dir is not None:
                self._embeddings = embedding_store(self.embeddings_dir, encoder)
            engine = SearchEngine.build(products, encoder=encoder, embeddings=self._embeddings)
            with self._lock:
                if self._models is not None:
                    _personalize(engine, self._models)
                if self._pending:
                    engine.upsert(self._pending)
                if self._removed:
                    engine.remove(self._removed)
                self._pending, self._removed = [], []
                self._engine = engine
                self.status = "ready"
            log.info("search index ready (%d products)", len(engine))
            settle_heap()
        except (ImportError, ShopSenseError, OSError, RuntimeError) as exc:
            self.status, self.error = "failed", f"{type(exc).__name__}: {exc}"
            log.error("search index failed to build: %s", self.error)
        finally:
            self.ready.set()

    def use_models(self, models: ModelSet) -> None:
        """Re-rank for the shopper with the serving models; popularity sort by trending."""
        with self._lock:
            self._models = models
            if self._engine is not None:
                _personalize(self._engine, models)

    @property
    def embeddings(self) -> EmbeddingStore | None:
        """The embedding store the index was built with (``None`` without a data dir)."""
        return self._embeddings

    def close(self) -> None:
        """Keep the vectors of products indexed since the start for the next one."""
        if self._embeddings is not None and self._engine is not None:
            try:
                self._embeddings.save()
            except OSError as exc:
                log.warning("could not save the embedding store: %s", exc)

    def engine(self) -> SearchEngine:
        engine = self._engine
        if engine is None:
            detail = f" ({self.error})" if self.error else ""
            raise SearchUnavailableError(f"search is {self.status}{detail}; retry in a few seconds")
        return engine

    def upsert(self, products: Sequence[Product]) -> bool:
        """Index new versions; ``True`` when they are searchable now (not just queued)."""
        if not self.enabled:
            return False
        with self._lock:
            if self._engine is None:
                self._pending.extend(products)
                return False
        self._engine.upsert(list(products))
        return True

    def remove(self, product_ids: Sequence[str]) -> None:
        with self._lock:
            if self._engine is None:
                self._removed.extend(product_ids)
                return
        self._engine.remove(list(product_ids))


def _personalize(engine: SearchEngine, models: ModelSet) -> None:
    from shopsense.search import ModelAffinity

    engine.personalizer = ModelAffinity(models.personal)
    trending = models.trending
    counts = trending.scores("", history=[])
    engine.set_popularity(dict(zip(trending.items_.to_list(), counts.tolist(), strict=True)))


def parse_sort(sort: str) -> str:
    from shopsense.search import SORTS

    if sort not in SORTS:
        raise ConfigError(f"unknown sort {sort!r}; choose from {', '.join(SORTS)}")
    return sort
