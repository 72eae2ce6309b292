"""Model lifecycle in the server: load the newest published bundle, retrain, hot-swap.

Training runs in a separate process (the server's event loop and GIL stay free for
requests), through :func:`shopsense.pipeline.train` with a :class:`QualityGate`: the new
bundle is published only if its offline metrics pass against the current one. When a new
bundle is published, it is loaded and warmed up beside the serving one, then a single
reference assignment swaps it in; requests in flight finish on the set they started
with, so none fails.

Example::

    >>> manager = ModelManager(settings, config, catalog)           # doctest: +SKIP
    >>> manager.reload()                                            # doctest: +SKIP
    >>> job = manager.start_training()                              # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
import logging
import multiprocessing
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from shopsense.api.config import ServeConfig
from shopsense.config import Settings
from shopsense.domain import Product
from shopsense.errors import ModelError, ShopSenseError
from shopsense.recommend import CatalogView, ItemFilter, ModelSet, RecommendationEngine
from shopsense.store.artifacts import ArtifactStore, Bundle, try_lock
from shopsense.store.base import EventLog

log = logging.getLogger(__name__)

#: The lock file (in the artifacts directory) of the worker that runs the retraining schedule.
SCHEDULE_LOCK = ".retrain-schedule.lock"


@dataclass
class TrainingJob:
    """One background training run, as reported by ``GET /admin/models``."""

    id: str
    started_at: float
    status: str = "running"  # running | published | rejected | failed
    finished_at: float | None = None
    bundle_id: str | None = None
    gate: dict[str, Any] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "bundle_id": self.bundle_id,
            "gate": self.gate,
            "error": self.error,
        }


def _train_process(settings_json: str, config_json: str, out: Any) -> None:
    """Child-process entry point: train with the gate, report the verdict on ``out``."""
    from shopsense.pipeline import QualityGate, train
    from shopsense.store import open_store

    settings = Settings.model_validate_json(settings_json)
    config = ServeConfig.model_validate_json(config_json)
    try:
        gate = QualityGate(tolerance=config.gate_tolerance)
        models = tuple(m.strip() for m in config.train_models.split(",") if m.strip())
        result = train(open_store(settings), settings, models or None, gate=gate)
        out.put({"bundle_id": result.bundle.id, "published": result.published, "gate": result.gate})
    except ShopSenseError as exc:
        out.put({"error": str(exc)})


class BundleLoadError(ModelError):
    """A published bundle could not be loaded (a damaged file); nothing was swapped."""


@dataclass
class ModelManager:
    """Holds the serving :class:`RecommendationEngine` and replaces it atomically."""

    settings: Settings
    config: ServeConfig
    catalog: CatalogView
    engine: RecommendationEngine | None = None
    jobs: list[TrainingJob] = field(default_factory=list)
    swaps: int = 0
    #: Why the last bundle that was asked for could not be loaded (``None``: it loaded).
    load_error: str | None = None
    #: Shoppers deleted while serving: their learned factors are erased in every set loaded.
    forgotten: set[str] = field(default_factory=set)
    #: The store's event log: its tombstones are applied to every bundle loaded (deletions
    #: made before this server started, or by another process).
    events: EventLog | None = None
    #: Called with each model set swapped in (the search service re-personalises).
    listeners: list[Callable[[ModelSet], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: The store's choice this server last acted on (followed, made, or failed to load).
    _followed: str | None = None
    #: With several workers: the descriptor holding the retraining schedule's lock.
    _schedule_lock: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def artifacts(self) -> ArtifactStore:
        return ArtifactStore(self.settings.artifacts_dir)

    @property
    def bundle_id(self) -> str | None:
        engine = self.engine
        return engine.models.bundle_id if engine is not None else None

    def activate(self, bundle: Bundle) -> None:
        """Load ``bundle``, warm it up off the request path, then swap it in. A bundle that
        cannot be loaded (a damaged file) raises :class:`BundleLoadError`, recorded in
        ``load_error`` (``/health``); what was serving keeps serving."""
        # In small steps with pauses between (the GIL handed over often meanwhile): on a
        # busy server the requests queued behind ~20 ms of loading are what a swap costs.
        try:
            with _yielding_often():
                models = ModelSet.load(bundle, between=_pause)
                models.warm_up(between=_pause)
        except Exception as exc:  # any damage (pickle, numpy, torch, json) is one failure
            self.load_error = f"bundle {bundle.id} could not be loaded: {type(exc).__name__}: {exc}"
            self.load_error = self.load_error[:400]
            log.error("%s", self.load_error)
            serving = f"; still serving {self.bundle_id}" if self.bundle_id else ""
            raise BundleLoadError(self.load_error + serving) from exc
        self.load_error = None
        engine = RecommendationEngine(models, self.catalog, self.settings.event_weights.weights)
        if self.events is not None:
            self.forgotten |= engine.forget_digests(self.events.forgotten(), self.events.digest)
        for user_id in self.forgotten:
            engine.forget_user(user_id)
        for model in models.models.values():
            # Business-rule columns for the new item maps, computed before the swap.
            self.catalog.mask(model.items_, ItemFilter())
        self.engine = engine  # one reference assignment: the swap
        self.swaps += 1
        for listener in self.listeners:
            listener(models)
        log.info("serving bundle %s", bundle.id)

    def add_items(self, products: Sequence[Product]) -> list[str]:
        """Give new or changed products vectors in models that can (the item tower), and
        a place in the stack, so "for you" can show them from day zero.

        Copy on write: the models are copied, extended, and swapped in as a new engine, so
        requests in flight never see a half-extended model. Returns the models extended.
        """
        with self._lock:
            engine = self.engine
            if engine is None:
                return []
            current = engine.models
            stack = current.stack.with_products(products) if current.stack is not None else None
            models = dict(current.models)
            extended = []
            if stack is not None and stack is not current.stack:
                for name, model in stack.sources.models.items():
                    if model is not models.get(name):
                        models[name] = model
                        extended.append(name)
            for name, model in models.items():
                add = getattr(model, "add_items", None)
                if (
                    add is None
                    or not model.fitted
                    or name in extended
                    or (stack is not None and name in stack.sources.models)
                ):
                    continue
                fresh = copy.copy(model)
                for attr in ("item_vectors_", "item_popularity_"):
                    if hasattr(fresh, attr):
                        setattr(fresh, attr, getattr(fresh, attr).copy())
                fresh.add_items(list(products))  # type: ignore[attr-defined]
                models[name] = fresh
                extended.append(name)
            if not extended and stack is current.stack:
                return []
            updated = ModelSet.from_models(current.bundle_id, current.manifest, models, stack)
            for model in updated.models.values():
                self.catalog.mask(model.items_, ItemFilter())
            self.engine = RecommendationEngine(updated, self.catalog, engine.weights)
            for user_id in self.forgotten:
                self.engine.forget_user(user_id)
            for listener in self.listeners:
                listener(updated)
            return extended

    def reload(self, starting: bool = False) -> bool:
        """Swap in the newest published bundle if it is not the one serving; ``True`` if
        swapped. If it cannot be loaded, what serves keeps serving; a server with nothing
        loaded yet falls back to the newest older bundle that loads (the error stays on
        ``/health``). ``starting``: the bundle the servers on this store last chose instead,
        unless a newer one was published since (:meth:`ArtifactStore.to_serve`).

        What is served is recorded as the store's choice: other workers follow it."""
        with self._lock:
            artifacts = self.artifacts
            latest = artifacts.to_serve() if starting else artifacts.latest()
            if latest is None:
                return False
            swapped = False
            if latest.id != self.bundle_id:
                try:
                    self.activate(latest)
                    swapped = True
                except BundleLoadError:
                    if self.engine is not None:
                        raise
                    error = self.load_error
                    older = [b for b in artifacts.list() if b.published and b.id != latest.id]
                    for bundle in reversed(older):
                        try:
                            self.activate(bundle)
                        except BundleLoadError:
                            continue
                        self.load_error = error
                        swapped = True
                        break
                    else:
                        raise
            self._choose(artifacts)
            return swapped

    def _choose(self, artifacts: ArtifactStore) -> None:
        """Record what this server serves as the store's choice, if it is not already."""
        serving = self.bundle_id
        chosen = artifacts.serving()
        if serving is not None and (chosen is None or chosen[0] != serving):
            artifacts.choose_serving(serving)
        self._followed = serving

    def follow(self) -> bool:
        """Serve the bundle another server on this store chose (a roll-back, a reload, a
        training run it published); ``True`` if swapped. A chosen bundle that does not
        load here is tried once, and what serves keeps serving."""
        artifacts = self.artifacts
        chosen = artifacts.serving()
        if chosen is None or chosen[0] in (self.bundle_id, self._followed):
            return False
        with self._lock:
            self._followed = chosen[0]
            bundle = next((b for b in artifacts.list() if b.id == chosen[0]), None)
            if bundle is None or not bundle.published or bundle.id == self.bundle_id:
                return False
            try:
                self.activate(bundle)
            except BundleLoadError:
                return False
            return True

    def activate_id(self, bundle_id: str) -> Bundle:
        """Serve a given published bundle (roll back or forward)."""
        with self._lock:
            found = {b.id: b for b in self.artifacts.list()}
            bundle = found.get(bundle_id)
            if bundle is None:
                raise ModelError(f"no bundle {bundle_id!r}; GET /admin/models lists them")
            if not bundle.published:
                raise ModelError(f"bundle {bundle_id!r} failed its quality gate; not served")
            self.activate(bundle)
            self._choose(self.artifacts)
            return bundle

    def running_job(self) -> TrainingJob | None:
        return next((j for j in self.jobs if j.status == "running"), None)

    def start_training(self) -> TrainingJob:
        """Start a background training run (one at a time); returns the running job."""
        with self._lock:
            running = self.running_job()
            if running is not None:
                return running
            job = TrainingJob(id=uuid.uuid4().hex[:12], started_at=time.time())
            self.jobs.append(job)
            del self.jobs[:-20]
        threading.Thread(target=self._run_job, args=(job,), daemon=True).start()
        return job

    def _run_job(self, job: TrainingJob) -> None:
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        process = context.Process(
            target=_train_process,
            args=(self.settings.model_dump_json(), self.config.model_dump_json(), out),
            daemon=True,
        )
        process.start()
        process.join()
        result: dict[str, Any] = out.get() if not out.empty() else {}
        job.finished_at = time.time()
        if "error" in result or not result:
            job.status = "failed"
            job.error = result.get("error") or f"training process exited with {process.exitcode}"
            return
        job.bundle_id = result["bundle_id"]
        job.gate = result["gate"]
        if result["published"]:
            # "published" only once it serves: a client polling the job then sees it live.
            try:
                self.reload()
            except ShopSenseError as exc:
                job.status, job.error = "failed", f"published but not loadable: {exc}"
                return
        job.status = "published" if result["published"] else "rejected"

    def start_schedule(self) -> None:
        """Retrain every ``config.retrain_every_s`` seconds in the background (0: never).
        With several workers one of them retrains: the one holding the schedule's lock
        file beside the bundles (when it exits, another takes over); the others follow
        the bundle it publishes."""
        period = self.config.retrain_every_s
        if period <= 0:
            return

        def loop() -> None:
            while not self._stop.wait(period):
                if self._holds_schedule():
                    self.start_training()

        threading.Thread(target=loop, daemon=True, name="shopsense-retrain").start()

    def _holds_schedule(self) -> bool:
        if self.config.workers <= 1:
            return True
        if self._schedule_lock is None:
            self._schedule_lock = try_lock(self.settings.artifacts_dir / SCHEDULE_LOCK)
        return self._schedule_lock is not None

    def stop(self) -> None:
        self._stop.set()

    def bundles(self) -> list[dict[str, Any]]:
        """Every bundle, newest first, with its metrics and gate verdict."""
        serving = self.bundle_id
        return [
            {
                "id": b.id,
                "created_at": b.manifest.get("created_at"),
                "published": b.published,
                "serving": b.id == serving,
                "models": b.manifest.get("models", []),
                "primary": b.manifest.get("primary"),
                "stack": b.manifest.get("stack"),
                "metrics": b.manifest.get("metrics", {}),
                "gate": b.manifest.get("gate"),
                "data": b.manifest.get("data", {}),
            }
            for b in reversed(self.artifacts.list())
        ]


def _pause() -> None:
    time.sleep(0.02)


@contextlib.contextmanager
def _yielding_often(interval_s: float = 0.0005) -> Iterator[None]:
    """Hand the GIL to waiting request threads every ``interval_s`` inside the block.

    Loading a bundle is ~20 ms of Python work in small steps; with the default 5 ms switch
    interval each step can hold requests up for 5 ms, so they are what a swap is felt as.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(interval_s)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)
