"""Multi-task click -> add-to-cart -> purchase ranker, learned from logged impressions.

It scores ``(shopper, candidate)`` feature rows (built by :mod:`shopsense.ranking.features`)
with three chained heads, trained on **every** impression (the entire-space idea of ESMM,
Ma et al. SIGIR 2018, extended to the cart step as in ESCM² / AITM)::

    p(click)    = sigmoid(z_click)
    p(cart)     = p(click) * sigmoid(z_cart)       # add to cart, given a click
    p(purchase) = p(cart)  * sigmoid(z_purchase)   # buy, given a cart

so the conversion heads never learn from the clicked (biased) sample alone.

The click logit is the retrieval prior plus what the feedback adds::

    z_click = sum_f g_f(prior_f) + item_effect[item] + wide(x) + deep(x) (+ position term)

- each ``g_f`` is a learned **monotone** function of a prior feature (the retrieval blend's
  z-score): where the log holds little feedback, the ranker orders like the retrieval
  models it is given and never reverses them;
- ``item_effect`` is one learned logit per product, shrunk towards 0 (a random effect:
  only products with enough impressions move), which learns where shoppers click a product
  more or less than its browsing suggests;
- ``wide`` (linear) and ``deep`` (an MLP over a shared bottom, or ``"mmoe"`` experts mixed
  by one gate per head, Ma et al. KDD 2018) start at 0 and learn the rest (price, category,
  repeats, complements, query match, ...). The cart and purchase logits are wide + deep;
  the click head keeps the wide term alone or wide + deep, whichever lowers the held-out
  loss most, only if that is significant (``residual="auto"``).

- **Position bias**: a learned logit per shown position is added to ``z_click`` in training
  (position 0 pinned to 0); predictions for serving leave it out, i.e. score every
  candidate as if shown at the top (the PAL / "position as a feature" approach).
- **Propensities**: each impression is weighted by ``1 / propensity`` (clipped at
  ``max_weight``, normalised to mean 1) when the log carries the logging policy's
  propensities: the counterfactual (inverse-propensity) risk of Joachims et al. 2017.
- **Large logs**: beyond ``max_rows`` impressions (100,000), unclicked ones are sampled at
  the rate that meets it and weigh 1 / rate (negative down-sampling, He et al. ADKDD 2014):
  the weighted loss still estimates the loss over every impression, and fitting time stops
  growing with the log (``benchmarks/ranker_rows.py``).
- **Early stopping**: a share of the requests is held out; the number of updates with
  the lowest held-out loss is then used to refit on all rows.

The network and its training loop live in :mod:`.ranker_net`, the held-out choices (item
shrinkage, click residual) in :mod:`.ranker_select`, the files in :mod:`.ranker_store`.

Example::

    >>> ranker = MultiTaskRanker().fit(x, positions, click, cart, purchase,
    ...                                items=items, feature_names=names)  # doctest: +SKIP
    >>> scores = ranker.predict(x_candidates, items=candidates)           # doctest: +SKIP
    >>> scores.click.shape, scores.cart.shape, scores.purchase.shape      # doctest: +SKIP
    ((n,), (n,), (n,))
    >>> order = ranker.rank(x_candidates, objective="conversion",
    ...                     items=candidates)                             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt

from shopsense.errors import ModelError
from shopsense.ranking.ranker_net import (
    RESIDUAL_FULL,
    RESIDUAL_LEVELS,
    chain_log_probs,
    scoring_net,
    train_net,
)
from shopsense.ranking.ranker_select import ITEM_L2_GRID, choose_heads
from shopsense.ranking.ranker_store import load_ranker, save_ranker

FloatArray = npt.NDArray[np.float32]
Objective = Literal["click", "conversion", "revenue"]
OBJECTIVES: tuple[str, ...] = ("click", "conversion", "revenue")
TASKS = ("click", "cart", "purchase")
BOTTOMS = ("shared", "mmoe")
RESIDUALS = ("auto", *RESIDUAL_LEVELS)
#: Floor of a feature's spread when standardising: a feature nearly constant in training
#: (launch age in a short log) must not become a huge number when it moves at serving.
MIN_SCALE = 0.05
#: Knots of each monotone prior function (quantiles of its feature).
PRIOR_KNOTS = 8


@dataclasses.dataclass(frozen=True)
class RankerScores:
    """Predictions for ``n`` rows, each ``(n,)``: ``click`` = p(click), ``cart`` =
    p(click and cart), ``purchase`` = p(click, cart and purchase)."""

    click: FloatArray
    cart: FloatArray
    purchase: FloatArray

    def task(self, name: str) -> FloatArray:
        values: FloatArray = getattr(self, name)
        return values


def propensity_weights(propensity: npt.ArrayLike, max_weight: float) -> FloatArray:
    """``1 / propensity`` clipped at ``max_weight`` and scaled to mean 1; rows without a
    propensity (NaN) weigh like the median logged one."""
    p = np.asarray(propensity, np.float64)
    weights = np.ones(p.size)
    known = np.isfinite(p) & (p > 0)
    if known.any():
        weights[known] = np.minimum(1.0 / p[known], max_weight)
        weights[~known] = float(np.median(weights[known]))
    if p.size:
        weights = weights / weights.mean()
    result: FloatArray = weights.astype(np.float32)
    return result


def sample_rows(
    clicked: npt.NDArray[np.bool_], max_rows: int | None, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64] | None, npt.NDArray[np.float64]]:
    """The impressions to learn from when there are more than ``max_rows`` (see
    :attr:`MultiTaskRanker.max_rows`): their indices, in order, and each kept one's sampling
    rate. ``(None, empty)`` when every impression is kept."""
    n = clicked.size
    if max_rows is None or n <= max_rows:
        return None, np.ones(0)
    n_pos = int(clicked.sum())
    n_neg = n - n_pos
    negatives = max(max_rows - n_pos, max_rows // 2)
    rate_neg = min(1.0, negatives / max(n_neg, 1))
    rate_pos = min(1.0, (max_rows - min(negatives, n_neg)) / max(n_pos, 1))
    rate = np.where(clicked, rate_pos, rate_neg)
    kept = np.flatnonzero(rng.random(n) < rate)
    return kept, rate[kept]


@dataclasses.dataclass(eq=False)
class MultiTaskRanker:
    """Chained click / cart / purchase ranker over feature rows (see the module docstring).

    ``tasks``: ``("click",)`` trains the click head only (its p(click) then stands in for
    every objective); the default trains all three. ``prior_features``: the columns the
    monotone priors read (``"*.log_prob"`` matches every such column; absent ones are
    skipped).
    """

    tasks: tuple[str, ...] = TASKS
    bottom: str = "shared"
    hidden: int = 64
    experts: int = 4
    dropout: float = 0.1
    prior_features: tuple[str, ...] = ("blend.score_z", "*.log_prob", "click_affinity")
    #: The column counting how often the shopper was shown the product and did not click:
    #: its effect on the click logit is learned but never positive.
    skip_feature: str = "log_skips"
    #: Does the click head learn beyond the monotone prior and the item effects? ``"on"``:
    #: wide and deep terms; ``"linear"``: the wide term alone; ``"off"``: neither;
    #: ``"auto"``: the linear (wide) term alone or wide and deep, whichever lowers the
    #: held-out loss most, if either does significantly.
    residual: str = "auto"
    #: Strength of the pull of each item effect towards 0, in impressions' worth of loss:
    #: the penalty is ``item_l2 * sum(effect**2) / n_rows`` (a normal prior, sd
    #: 1/sqrt(2*item_l2)). ``None``: chosen on the held-out requests among
    #: :data:`ITEM_L2_GRID`, extended to weaker strengths when its weakest is the best (the
    #: strongest within one standard error of the best).
    item_l2: float | None = None
    #: Positions ``>= n_positions - 1`` share the last position's learned bias.
    n_positions: int = 20
    #: Impressions learned from at most: beyond, unclicked ones are sampled at the rate that
    #: meets it (clicked ones too, when they alone pass half of it) and weigh 1 / rate, so
    #: the loss stays an unbiased estimate over every impression (negative down-sampling,
    #: He et al. ADKDD 2014). Fitting time grows with the impressions kept, not with the
    #: log. ``None``: every impression.
    max_rows: int | None = 100_000
    max_epochs: int = 40
    #: At least this many gradient updates, however small the log.
    min_updates: int = 300
    batch_size: int = 512
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    #: Epochs without a better held-out loss before stopping.
    patience: int = 4
    #: Share of the requests held out to choose the number of updates.
    validation_share: float = 0.2
    #: Inverse-propensity weighting of impressions, clipped at ``max_weight``.
    propensity_weighting: bool = True
    max_weight: float = 20.0
    random_state: int = 42
    num_threads: int = 1

    feature_names_: list[str] = dataclasses.field(init=False, repr=False, default_factory=list)
    feature_mean_: FloatArray = dataclasses.field(init=False, repr=False)
    feature_scale_: FloatArray = dataclasses.field(init=False, repr=False)
    #: Each standardised feature's range in training (serving clips to it).
    feature_low_: FloatArray = dataclasses.field(init=False, repr=False)
    feature_high_: FloatArray = dataclasses.field(init=False, repr=False)
    n_items_: int = dataclasses.field(init=False, repr=False, default=0)
    prior_indices_: tuple[int, ...] = dataclasses.field(init=False, repr=False, default=())
    skip_index_: int = dataclasses.field(init=False, repr=False, default=-1)
    net_: Any = dataclasses.field(init=False, repr=False, default=None)
    #: ``(net_, its trace for serving)``, made on first use (see :func:`scoring_net`).
    _traced: Any = dataclasses.field(init=False, repr=False, default=None)
    #: Held-out loss after each epoch of the early-stopping run, shape ``(epochs,)``.
    validation_curve_: FloatArray = dataclasses.field(init=False, repr=False)
    #: Gradient updates of the final fit (chosen on the held-out requests).
    updates_: int = dataclasses.field(init=False, repr=False, default=0)
    #: What the click head learns beyond the prior: 0 nothing, 1 wide, 2 wide and deep.
    residual_: int = dataclasses.field(init=False, repr=False, default=RESIDUAL_FULL)
    #: The held-out comparison that set ``residual_`` and ``item_l2_``.
    selection_: dict[str, Any] = dataclasses.field(init=False, repr=False, default_factory=dict)
    #: The item-effect shrinkage used (``item_l2``, or the one chosen).
    item_l2_: float = dataclasses.field(init=False, repr=False, default=8.0)

    def _check(self) -> None:
        if not self.tasks or tuple(self.tasks) != TASKS[: len(self.tasks)]:
            raise ModelError(
                f"ranker tasks must be a prefix of {TASKS} (click first), got {self.tasks!r}"
            )
        if self.bottom not in BOTTOMS:
            raise ModelError(f"ranker bottom must be 'shared' or 'mmoe', got {self.bottom!r}")
        if self.residual not in RESIDUALS:
            raise ModelError(
                f"ranker residual must be one of {', '.join(RESIDUALS)}, got {self.residual!r}"
            )

    @property
    def fitted(self) -> bool:
        return self.net_ is not None

    def _locate(self) -> None:
        """The columns of the prior and of the skips among the feature names."""
        names = self.feature_names_
        chosen: list[int] = []
        for pattern in self.prior_features:
            for i, name in enumerate(names):
                wild = pattern.startswith("*") and name.endswith(pattern[1:])
                if (name == pattern or wild) and i not in chosen:
                    chosen.append(i)
        self.prior_indices_ = tuple(chosen)
        self.skip_index_ = names.index(self.skip_feature) if self.skip_feature in names else -1

    def _items(self, items: npt.ArrayLike | None, n: int) -> npt.NDArray[np.int64]:
        """Item rows for the item effects; unknown (or absent) items share the last row."""
        if items is None:
            return np.full(n, self.n_items_, np.int64)
        index = np.asarray(items, np.int64)
        return np.where((index >= 0) & (index < self.n_items_), index, self.n_items_)

    # --- training ---------------------------------------------------------------------
    def fit(
        self,
        features: npt.ArrayLike,
        positions: npt.ArrayLike,
        click: npt.ArrayLike,
        cart: npt.ArrayLike | None = None,
        purchase: npt.ArrayLike | None = None,
        *,
        propensity: npt.ArrayLike | None = None,
        groups: npt.ArrayLike | None = None,
        items: npt.ArrayLike | None = None,
        feature_names: Sequence[str] | None = None,
    ) -> Self:
        """Learn from ``n`` logged impressions.

        ``features``: ``(n, d)``; ``positions``: ``(n,)`` 0-based slot each was shown in;
        ``click`` / ``cart`` / ``purchase``: ``(n,)`` nested 0/1 labels (missing ones are
        taken as 0); ``propensity``: ``(n,)`` the logging policy's probability of each
        impression (NaN or absent: unweighted); ``groups``: ``(n,)`` request ids, so the
        held-out share keeps whole lists together; ``items``: ``(n,)`` product rows (for
        the item effects); ``feature_names``: the ``d`` column names (for the prior).
        """
        from shopsense.models._torch import torch_threads

        self._check()
        x = np.asarray(features, np.float32)
        n = x.shape[0] if x.ndim == 2 else -1
        pos = np.asarray(positions, np.int64)
        labels: list[npt.NDArray[np.float32]] = [np.asarray(click, np.float32)]
        for extra in (cart, purchase)[: len(self.tasks) - 1]:
            labels.append(
                np.zeros(max(n, 0), np.float32) if extra is None else np.asarray(extra, np.float32)
            )
        sizes = [pos.size, *(a.size for a in labels)]
        if x.ndim != 2 or any(size != n for size in sizes):
            raise ModelError(
                f"ranker.fit needs features (n, d) and n positions / labels; got {x.shape}, "
                f"{pos.size}, {[a.size for a in labels]}"
            )
        y = np.stack(labels, axis=1)
        if n == 0 or y[:, 0].sum() == 0:
            raise ModelError("ranker.fit needs impressions with at least one click")
        y = np.minimum.accumulate(y, axis=1)  # a purchase implies a cart implies a click
        self.feature_names_ = list(feature_names or [f"x{j}" for j in range(x.shape[1])])
        if len(self.feature_names_) != x.shape[1]:
            raise ModelError(f"{len(self.feature_names_)} feature names for {x.shape[1]} columns")
        self._locate()
        item_rows = np.asarray(items, np.int64) if items is not None else None
        self.n_items_ = int(item_rows.max()) + 1 if item_rows is not None and item_rows.size else 0
        weights = (
            propensity_weights(propensity, self.max_weight)
            if propensity is not None and self.propensity_weighting
            else np.ones(n, np.float32)
        )
        rng = np.random.default_rng(self.random_state)
        logged = n
        kept, rate = sample_rows(y[:, 0] > 0, self.max_rows, rng)
        if kept is not None:
            x, pos, y, n = x[kept], pos[kept], y[kept], kept.size
            item_rows = item_rows[kept] if item_rows is not None else None
            scaled = weights[kept] / rate
            weights = (scaled / scaled.mean()).astype(np.float32)
            groups = np.asarray(groups)[kept] if groups is not None else kept
        self.feature_mean_ = x.mean(axis=0)
        self.feature_scale_ = np.maximum(x.std(axis=0), MIN_SCALE).astype(np.float32)
        xs = (x - self.feature_mean_) / self.feature_scale_
        # Serving never extrapolates: each feature is clipped to the range it had here.
        self.feature_low_, self.feature_high_ = xs.min(axis=0), xs.max(axis=0)
        levels = np.linspace(0.5, 0.99, PRIOR_KNOTS)
        knots = np.array(
            [np.quantile(xs[:, i], levels) for i in self.prior_indices_] or [np.zeros(PRIOR_KNOTS)],
            np.float32,
        )
        group = np.asarray(groups) if groups is not None else np.arange(n)
        unique = np.unique(group)
        held = np.isin(group, rng.choice(unique, int(unique.size * self.validation_share)))
        arrays = (xs, self._items(item_rows, n), pos, y, weights)
        with torch_threads(self.num_threads):
            if held.any() and (~held).any() and y[held, 0].sum() > 0:
                train, valid = [a[~held] for a in arrays], [a[held] for a in arrays]
                self.residual_, updates = choose_heads(self, train, valid, knots)
            else:
                self.validation_curve_ = np.zeros(0, np.float32)
                self.residual_ = RESIDUAL_LEVELS.get(self.residual, RESIDUAL_FULL)
                self.item_l2_ = self.item_l2 if self.item_l2 is not None else ITEM_L2_GRID[1]
                updates = self.min_updates
            self.updates_ = max(updates, self.min_updates)
            self.selection_["rows"] = {"learned_from": n, "logged": logged}
            self.net_, _, _ = train_net(
                self, list(arrays), None, self.updates_, knots, self.residual_
            )
        return self

    def chosen_settings(self) -> dict[str, Any]:
        """What the held-out requests chose (item-effect shrinkage, click residual), as
        settings: a ranker given them fits once, without searching again."""
        if not self.fitted:
            raise ModelError("the ranker is not fitted; call fit() or load() first")
        names = {level: name for name, level in RESIDUAL_LEVELS.items()}
        return {"item_l2": self.item_l2_, "residual": names[self.residual_]}

    # --- scoring ----------------------------------------------------------------------
    def predict(
        self,
        features: npt.ArrayLike,
        items: npt.ArrayLike | None = None,
        positions: npt.ArrayLike | None = None,
    ) -> RankerScores:
        """Probabilities for feature rows ``(n, d)`` of products ``items`` ``(n,)``: as if
        shown at the top, or at the given 0-based ``positions`` ``(n,)`` (what a logged
        impression's outcome is compared with)."""
        import torch

        from shopsense.models._torch import torch_threads

        if not self.fitted:
            raise ModelError("the ranker is not fitted; call fit() or load() first")
        x = np.asarray(features, np.float32)
        if x.ndim != 2 or x.shape[1] != self.feature_mean_.size:
            raise ModelError(
                f"the ranker was trained on {self.feature_mean_.size} features, got shape "
                f"{x.shape}; build features with the same FeatureBuilder"
            )
        standard = np.clip(
            (x - self.feature_mean_) / self.feature_scale_, self.feature_low_, self.feature_high_
        )
        xs = torch.from_numpy(standard.astype(np.float32))
        rows = torch.from_numpy(self._items(items, x.shape[0]))
        where = None if positions is None else torch.from_numpy(np.asarray(positions, np.int64))
        with torch_threads(self.num_threads), torch.inference_mode():
            logits = self._scoring_net()(xs, rows) if where is None else self.net_(xs, rows, where)
            log_p, _ = chain_log_probs(logits)
            p = torch.exp(log_p).numpy().astype(np.float32)
        # A click-only ranker's p(click) stands in for the later steps.
        columns = [p[:, min(k, p.shape[1] - 1)] for k in range(len(TASKS))]
        return RankerScores(*columns)

    def _scoring_net(self) -> Any:
        if self.net_.training:  # mid-training: dropout on, nothing to trace
            return lambda x, items: self.net_(x, items, None)
        if self._traced is None or self._traced[0] is not self.net_:
            self._traced = (self.net_, scoring_net(self.net_, self.feature_mean_.size))
        return self._traced[1]

    def objective_scores(
        self,
        features: npt.ArrayLike,
        objective: Objective = "conversion",
        prices: npt.ArrayLike | None = None,
        items: npt.ArrayLike | None = None,
    ) -> FloatArray:
        """One score per row ``(n,)`` for ``objective``: ``click`` -> p(click),
        ``conversion`` -> p(purchase), ``revenue`` -> that times ``prices`` (n,)."""
        if objective not in OBJECTIVES:
            raise ModelError(
                f"unknown ranking objective {objective!r}; use click, conversion or revenue"
            )
        scores = self.predict(features, items)
        if objective == "click":
            return scores.click
        if objective == "conversion":
            return scores.purchase
        if prices is None:
            raise ModelError("objective 'revenue' needs the candidates' prices")
        return (scores.purchase * np.asarray(prices, np.float32)).astype(np.float32)

    def rank(
        self,
        features: npt.ArrayLike,
        objective: Objective = "conversion",
        prices: npt.ArrayLike | None = None,
        items: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.int64]:
        """Row indices ``(n,)`` best first for ``objective`` (ties by lower index)."""
        scores = self.objective_scores(features, objective, prices, items)
        return np.lexsort((np.arange(scores.size), -scores)).astype(np.int64)

    def item_effects(self) -> FloatArray:
        """The learned per-product click logit shifts ``(n_items,)``."""
        if not self.fitted:
            raise ModelError("the ranker is not fitted")
        effects: FloatArray = self.net_.item_effect.weight.detach().numpy()[:-1, 0].copy()
        return effects

    # --- persistence (JSON + npz, no pickle) -----------------------------------------
    def get_params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def save(self, directory: Path) -> None:
        save_ranker(self, directory)

    @classmethod
    def load(cls, directory: Path) -> MultiTaskRanker:
        return load_ranker(cls, directory)
