"""Everything the server holds between requests, and the write paths that change it.

Writes go to the store first (one transaction, committed before the answer) and then to
the in-memory views, so an acknowledged event or product is durable and visible at once:
the shopper's recent events (:class:`RecentEvents`), the serving catalog and the search
index.

Example::

    >>> state = ServingState.open(Settings(), ServeConfig())  # doctest: +SKIP
    >>> state.record_events([event])                          # doctest: +SKIP
    1
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from cachetools import LRUCache

from shopsense.api.config import ServeConfig
from shopsense.api.experiments import Experiments
from shopsense.api.follow import EventFollower
from shopsense.api.impressions import ImpressionLog
from shopsense.api.lifecycle import ModelManager
from shopsense.api.metrics import Metrics
from shopsense.api.search import SearchService
from shopsense.api.shoppers import Shoppers
from shopsense.config import Settings
from shopsense.domain import Event, EventKind, Product
from shopsense.errors import ModelError, ShopSenseError, ValidationError
from shopsense.recommend import CatalogView, RecentEvents, RecommendationEngine
from shopsense.recommend.catalog import top_category
from shopsense.recommend.history import LoadHistory, RecentEvent
from shopsense.store import SqlStore, open_store
from shopsense.store.base import to_micros

log = logging.getLogger(__name__)


class NoModelsError(ModelError):
    """No bundle is loaded yet (answered with 503)."""


class ResultCache:
    """A bounded LRU of computed answers; ``size`` 0 disables it.

    Keys hold every input of an answer (bundle, catalog version, the shopper's history
    fingerprint, parameters), so a hit is exactly what recomputing would give.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._items: LRUCache[Hashable, Any] = LRUCache(maxsize=max(size, 0))
        # cachetools' caches are not thread-safe: request threads share this one.
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        if self.size <= 0:
            return None
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = value


def new_request_id() -> str:
    return uuid.uuid4().hex


def relevant_history(store: SqlStore, kinds: Sequence[EventKind]) -> LoadHistory:
    """A loader of a shopper's latest events of ``kinds`` only, oldest first (one indexed
    query: impressions, most of a shop's events, are not read to be dropped)."""
    wanted = list(kinds)

    def load(user_id: str, limit: int) -> list[Event]:
        return store.events.user_history(user_id, limit, wanted)

    return load


@dataclass
class ServingState:
    """The store, the in-memory views, the model manager, the search service and metrics."""

    settings: Settings
    config: ServeConfig
    store: SqlStore
    catalog: CatalogView
    recent: RecentEvents
    models: ModelManager
    search: SearchService
    metrics: Metrics = field(default_factory=Metrics)
    started_at: float = field(default_factory=time.time)
    #: Recent answers keyed by everything they depend on (see ``routes.recommendations``).
    results: ResultCache = field(default_factory=lambda: ResultCache(0))
    experiments: Experiments = field(default_factory=lambda: Experiments([]))
    #: Storefront identity: signed cookies, CSRF tokens, the write rate limit.
    shoppers: Shoppers = field(
        default_factory=lambda: Shoppers(secrets.token_bytes(32), demo=False, write_limit="")
    )
    #: Writes the impressions of every served list (None: not logged).
    impressions: ImpressionLog | None = None
    #: Draws the exploring slots of served lists.
    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    #: Catalog changes up to this time (epoch µs of the write) are served.
    catalog_mark_us: int = 0
    #: Tombstones already applied (deletions by this server or another process).
    tombstones: frozenset[str] = frozenset()
    #: Reads back the events other processes stored (None: not followed).
    follower: EventFollower | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def open(
        cls, settings: Settings, config: ServeConfig, search: bool = True, load_models: bool = True
    ) -> ServingState:
        """Open the store, read the catalog, load the newest bundle, start building search."""
        store = open_store(settings)
        mark = to_micros(datetime.now(UTC))  # the catalog read below has every change before
        catalog = CatalogView(p for batch in store.catalog.iter_products() for p in batch)
        weights = settings.event_weights.weights
        kinds = [k for k, w in weights.items() if w > 0 and k is not EventKind.IMPRESSION]
        recent = RecentEvents(
            relevant_history(store, kinds),
            per_user=config.history_per_user,
            relevant=lambda e: weights.get(e.kind, 0.0) > 0,
            scan=1,  # the loaders read relevant kinds only
            impressions_per_user=config.impressions_per_user,
            # read apart: a shopper shown many lists keeps their clicks after a restart
            load_impressions=relevant_history(store, [EventKind.IMPRESSION]),
        )
        manager = ModelManager(settings, config, catalog)
        manager.events = store.events
        search_service = SearchService(
            search, settings.search_embeddings_dir, settings.search_encoder
        )
        state = cls(settings, config, store, catalog, recent, manager, search_service)
        state.catalog_mark_us = mark
        state.tombstones = store.events.forgotten()  # the bundle load below applies them
        if config.log_impressions:
            state.impressions = ImpressionLog(store.events.append_rows, recent.add_shown)
            state.impressions.start()
        manager.listeners.append(state.search.use_models)
        state.results = ResultCache(config.result_cache)
        state.rng = np.random.default_rng(config.exploration_seed)
        state.shoppers = Shoppers.for_key(
            config.key(), config.demo_shoppers, config.shop_write_limit
        )
        state.experiments = Experiments.from_settings(settings, config.experiments_file)
        if load_models:
            try:
                manager.reload(starting=True)
            except ShopSenseError as exc:
                log.warning("no models loaded: %s", exc)
        state.search.start(catalog.products())
        if config.follow_changes_s > 0:
            threading.Thread(
                target=state._follow, args=(config.follow_changes_s,), daemon=True,
                name="shopsense-follow",
            ).start()  # fmt: skip
        state.follower = EventFollower(store.events, recent.add)
        period = config.events_period_s(settings.database_url)
        if period > 0:
            threading.Thread(
                target=state._follow_events, args=(period,), daemon=True,
                name="shopsense-follow-events",
            ).start()  # fmt: skip
        return state

    #: Changes are re-read this far back (µs): a write that committed late with an earlier
    #: time is not missed; what is already served is skipped.
    FOLLOW_OVERLAP_US = 10_000_000

    def follow_catalog(self) -> int:
        """Serve the catalog changes other processes made since the last look (the serving
        catalog, search and the item tower); returns how many products changed."""
        since = self.catalog_mark_us - self.FOLLOW_OVERLAP_US
        products, latest = self.store.catalog.changed_since(since)
        self.catalog_mark_us = max(self.catalog_mark_us, latest)
        changed = [p for p in products if not _same_product(self.catalog.get(p.id), p)]
        if changed:
            self.catalog.upsert(changed)
            self.search.upsert(changed)
            try:
                self.models.add_items(changed)
            except ShopSenseError as exc:
                log.warning("changed products not added to the item tower: %s", exc)
            self.metrics.count("products_followed_total", len(changed))
        return len(changed)

    def follow_deletions(self) -> int:
        """Forget the shoppers other processes deleted (``shopsense delete-user``) since the
        last look: learned factors, in-memory history, lists served to them and not yet
        written; returns how many were found. Their stored events are deleted once more:
        impressions this server queued before the deletion may have been written after it.
        Shoppers are looked for in the models, the in-memory histories and the impression
        log (lists queued, or written since the last look)."""
        logged = self.impressions.take_shoppers() if self.impressions is not None else set()
        digests = self.store.events.forgotten()  # after the take: see take_shoppers
        new = digests - self.tombstones
        if not new:
            return 0
        digest = self.store.events.digest
        engine = self.models.engine
        found = engine.forget_digests(new, digest) if engine is not None else set()
        found |= {u for u in self.recent.user_ids() if digest(u) in new}
        found |= {u for u in logged if digest(u) in new}
        for user_id in found:
            if self.impressions is not None:
                self.impressions.forget(user_id)
            self.store.events.delete_user(user_id)
            self.recent.forget(user_id)
            self.models.forgotten.add(user_id)
        self.tombstones = digests
        return len(found)

    def follow_events(self) -> int:
        """Apply the events other processes stored since the last look to the live
        histories (the shoppers in memory); returns how many events were read."""
        if self.follower is None:
            return 0
        read = self.follower.poll()
        if read:
            self.metrics.count("events_followed_total", read)
        return read

    def _follow(self, period_s: float) -> None:
        while not self._stop.wait(period_s):
            try:
                self.follow_catalog()
                self.follow_deletions()
                self.models.follow()
            except ShopSenseError as exc:  # the store is away: try again next time
                log.warning("could not read changes made elsewhere: %s", exc)

    def _follow_events(self, period_s: float) -> None:
        while not self._stop.wait(period_s):
            try:
                self.follow_events()
            except ShopSenseError as exc:
                log.warning("could not read events stored elsewhere: %s", exc)

    def close(self) -> None:
        self._stop.set()
        self.models.stop()
        if self.impressions is not None:
            self.impressions.close()
        self.search.close()
        self.store.close()

    # --- reads ---------------------------------------------------------------------------
    def engine(self) -> RecommendationEngine:
        engine = self.models.engine
        if engine is None:
            raise NoModelsError("no trained models yet; POST /admin/train or run `shopsense train`")
        return engine

    def history(self, user_id: str) -> list[RecentEvent]:
        return self.recent.get(user_id)

    def reusable(self, user_id: str | None) -> bool:
        """Whether an answer for ``user_id`` can be asked for again unchanged, so is worth
        caching: not when it is logged as impressions that join the shopper's history (the
        next request's key, the history's latest event, differs; kept, such answers only
        filled the cache and lengthened garbage collections)."""
        logged = self.impressions is not None and self.config.impressions_per_user > 0
        return not (user_id and logged)

    def item_out(self, item_id: str, score: float, explanation: str) -> dict[str, Any]:
        product = self.catalog.get(item_id)
        return {
            "item_id": item_id,
            "score": round(score, 6),
            "title": product.title if product else item_id,
            "category": product.category_path if product else "",
            "brand": product.brand if product else None,
            "price": product.price if product else None,
            "in_stock": product.in_stock if product else False,
            "explanation": explanation,
        }

    def top_category(self, item_id: str) -> str:
        return top_category(self.catalog.get(item_id))

    # --- writes --------------------------------------------------------------------------
    def check_items(self, events: Sequence[Event], source: str = "events") -> None:
        """Refuse events on products outside the catalog (unless allowed by config)."""
        if self.config.allow_unknown_items:
            return
        for i, event in enumerate(events):
            if event.item_id is not None and event.item_id not in self.catalog:
                raise ValidationError(
                    "request",
                    0,
                    f"{source}[{i}].item_id",
                    f"unknown product id {event.item_id!r}; add it with PUT /catalog/products "
                    "first",
                )

    def record_events(self, events: Sequence[Event], source: str = "events") -> int:
        """Commit ``events`` to the store, then make them visible; returns how many were new.
        An ``event_id`` already stored for a different event refuses the whole request
        (``ValidationError`` naming ``source[i].event_id``), nothing written."""
        with self.store.events.writer() as writer:
            stored = writer.append(events)
            clashes = writer.conflicts(events) if stored < len(events) else []
            if clashes:  # raised inside the writer: the transaction rolls back
                i = clashes[0]
                raise ValidationError(
                    "request",
                    0,
                    f"{source}[{i}].event_id",
                    f"{events[i].event_id!r} is already stored for a different event; event "
                    "ids must be unique (leave event_id out to have one derived from the content)",
                )
        self.recent.add(events)
        self.metrics.count("events_received_total", len(events))
        self.metrics.count("events_stored_total", stored)
        return stored

    def upsert_products(self, products: Sequence[Product]) -> bool:
        """Commit products, update the serving catalog and the search index."""
        self.store.catalog.upsert(products)
        self.catalog.upsert(products)
        self.metrics.count("products_upserted_total", len(products))
        searchable = self.search.upsert(products)
        try:
            self.models.add_items(products)  # cold-start vectors (item tower)
        except ShopSenseError as exc:
            log.warning("new products not added to the item tower: %s", exc)
        return searchable

    def delete_user(self, user_id: str) -> int:
        """Remove the shopper's events, in-memory history, cart and learned factors; the
        store keeps a tombstone that every later bundle load applies. Lists served to the
        shopper and not yet written as impressions are dropped first."""
        if self.impressions is not None:
            self.impressions.forget(user_id)
        removed = self.store.events.delete_user(user_id)
        self.tombstones = self.tombstones | {self.store.events.digest(user_id)}
        self.recent.forget(user_id)
        self.store.carts.take(user_id)
        self.models.forgotten.add(user_id)
        engine = self.models.engine
        if engine is not None:
            engine.forget_user(user_id)
        self.metrics.count("users_deleted_total")
        return removed


def _same_product(served: Product | None, stored: Product) -> bool:
    """Whether the served product already is the stored one (``created_at`` aside: the
    store fills it in where a client left it out)."""
    if served is None:
        return False
    return served.model_dump(exclude={"created_at"}) == stored.model_dump(exclude={"created_at"})
