"""The models one bundle serves, by role, and how similar two items are to each of them.

A bundle holds the default stack (:class:`~shopsense.ranking.stack.Stack`: retrieval
models and the feedback ranker) and serving helpers. Roles: ``stack`` (for you and the
re-ranking of other lists), ``personal`` (the stack's strongest retrieval model, or an older
bundle's primary model), ``session`` (a sequence model when there is one, else the
personal one), ``trending`` (recency-decayed popularity), ``similar`` (item-item
similarity) and ``together`` (co-occurrence in baskets).

Bundles are read through :mod:`shopsense.store.artifacts` and the models' own ``load``;
serving never imports the training pipeline.

Example::

    >>> bundle = ArtifactStore(settings.artifacts_dir).latest()   # doctest: +SKIP
    >>> models = ModelSet.load(bundle)                             # doctest: +SKIP
    >>> models.stack.recommend([{"item_id": "P1", "kind": "view"}], n=5)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.errors import ModelError
from shopsense.models import load_model
from shopsense.models.base import FloatArray, Recommender, sparse_block
from shopsense.ranking.stack import Stack
from shopsense.store.artifacts import Bundle

#: The directory of a bundle's stack.
STACK = "stack"


def load_models(
    bundle: Bundle, between: Callable[[], object] | None = None
) -> tuple[Stack | None, dict[str, Recommender]]:
    """A bundle's stack (if it has one) and every model saved in it by name (the stack's
    retrieval models and the serving helpers). ``between`` runs after each model (a server
    passes a short sleep, so loading in the background leaves the CPU to requests)."""
    names = [*bundle.manifest.get("models", []), *bundle.manifest.get("serving_models", [])]
    stack = None
    models: dict[str, Recommender] = {}
    for name in names:
        if name == STACK:
            stack = Stack.load(bundle.path / STACK)
            models.update(stack.sources.models)
        else:
            models[name] = load_model(bundle.path / name)
        if between is not None:
            between()
    return stack, models


#: Preferred session models, best first.
SESSION_MODELS = ("sasrec", "transition", "hybrid")
#: Models whose item-item similarity answers "similar items", best first.
SIMILARITY_MODELS = ("als", "bpr", "item_knn", "ease", "item_tower", "hybrid")


@dataclass(frozen=True)
class ModelSet:
    """Loaded models of one bundle; immutable, so a request keeps a consistent set."""

    bundle_id: str
    manifest: dict[str, Any]
    models: dict[str, Recommender]
    stack: Stack | None
    personal: Recommender
    session: Recommender
    trending: Recommender
    similar: Recommender
    together: Recommender | None

    @classmethod
    def load(cls, bundle: Bundle, between: Callable[[], object] | None = None) -> ModelSet:
        """The bundle's models; ``between`` runs after each one (see ``load_models``)."""
        stack, models = load_models(bundle, between)
        return cls.from_models(bundle.id, bundle.manifest, models, stack)

    @classmethod
    def from_models(
        cls,
        bundle_id: str,
        manifest: dict[str, Any],
        models: dict[str, Recommender],
        stack: Stack | None = None,
    ) -> ModelSet:
        if not models:
            raise ModelError(f"bundle {bundle_id} holds no models")
        helpers = ("popularity", "trending", "bought_together")
        if stack is not None:
            single = stack.report.get("retrieval", {}).get("single", {})
            ranked = sorted(stack.sources.models, key=lambda n: -float(single.get(n, -1.0)))
            primary_name = ranked[0] if ranked else next(iter(models))
        else:
            primary_name = manifest.get("primary") or next(
                (m for m in models if m not in helpers), next(iter(models))
            )
        personal = models[primary_name]
        session = next((models[m] for m in SESSION_MODELS if m in models), personal)
        trending = models.get("trending") or models.get("popularity") or personal
        similar = next((models[m] for m in SIMILARITY_MODELS if m in models), personal)
        return cls(
            bundle_id=bundle_id,
            manifest=manifest,
            models=models,
            stack=stack,
            personal=personal,
            session=session,
            trending=trending,
            similar=similar,
            together=models.get("bought_together"),
        )

    def explainers(self) -> list[Recommender]:
        """The bundle's similarity models, the usual one first: what explanations look in
        for the history item a recommendation resembles."""
        others = [m for n, m in self.models.items() if n in SIMILARITY_MODELS]
        return [self.similar, *(m for m in others if m is not self.similar)]

    def similarity_models(self, item_id: str) -> list[Recommender]:
        """The similarity models that know ``item_id``: the usual one first, then the other
        similarity models of the bundle (the item tower knows new products by content)."""
        return [m for m in self.explainers() if item_id in m.items_]

    def scenario_models(self) -> dict[str, str]:
        """Which of the bundle's models (by its name in the bundle; ``"stack"``: the stack)
        answers each scenario for a shopper with a history, as
        :class:`~shopsense.recommend.engine.RecommendationEngine` does (the dashboard shows
        it). Without a basket model, "bought together" falls back to trending."""
        together = self.together if self.together is not None else self.trending
        return {
            "for_you": STACK if self.stack is not None else self._named(self.personal),
            "session": STACK if self.stack is not None else self._named(self.session),
            "similar": self._named(self.similar),
            "bought_together": self._named(together),
            "trending": self._named(self.trending),
        }

    def _named(self, model: Recommender) -> str:
        """The name ``model`` has in this bundle ("trending" rather than "popularity")."""
        return next((name for name, m in self.models.items() if m is model), model.name)

    def warm_up(self, between: Callable[[], object] | None = None) -> None:
        """Compute lazy caches (ALS gram matrix) before the set takes traffic."""
        if self.stack is not None and len(self.stack.table):
            first = self.stack.table.item_ids[0]
            self.stack.recommend([{"item_id": first, "kind": "view"}], n=1)
        for model in self.models.values():
            items = model.items_.to_list()[:2]
            model.recommend("__warm_up__", n=1, history=items)
            if items:
                with contextlib.suppress(ModelError):
                    model.similar_items(items[0], n=1)
            if between is not None:
                between()


def pair_similarity(
    model: Recommender, anchors: npt.NDArray[np.int64], targets: npt.NDArray[np.int64]
) -> FloatArray | None:
    """Similarity ``(len(anchors), len(targets))`` between two sets of ``model`` items.

    Cosine of the model's item embeddings (ALS, BPR, the item tower, SASRec), the learned
    similarity for item-kNN, else the model's item scores; ``None`` when the model has no
    notion of item similarity.
    """
    vectors = model.item_embeddings()
    if vectors is not None:
        a = vectors[anchors]
        t = vectors[targets]
        a = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-9)
        t = t / (np.linalg.norm(t, axis=1, keepdims=True) + 1e-9)
        result: FloatArray = (a @ t.T).astype(np.float32)
        return result
    similarity = getattr(model, "similarity_", None)
    if isinstance(similarity, sp.csr_matrix):
        return sparse_block(similarity, anchors, targets)
    try:
        # The full similarity row of each anchor (the last five only: this is the slow path).
        rows = [model._item_scores(int(a))[targets] for a in anchors[-5:]]
    except ModelError:
        return None
    scores = np.zeros((anchors.size, targets.size), np.float32)
    if rows:
        scores[-len(rows) :] = np.stack(rows)
    return scores
