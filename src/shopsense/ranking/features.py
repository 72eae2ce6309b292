"""Ranking features: what is known about an item, a shopper and the pair, as one row.

Everything here is observable by a shop: catalog fields (category, brand, price, stock,
launch date, title), statistics of the logged events (interactions, recent interactions,
click-through, add-to-cart and purchase rates), the shopper's own history (what they engaged
with, how often and how recently, what they were shown and skipped), the click affinity of
the pair (:mod:`shopsense.ranking.affinity`), and the scores of the retrieval models.
Nothing reads a simulator's hidden truth.

Retrieval scores enter as rank-robust transforms (``log1p`` of the item's rank among all
items and the score's z-value over all items), so a model refitted on more data feeds the
ranker the same kind of numbers it was trained on.

Example::

    >>> table = ItemTable.from_products(products)                          # doctest: +SKIP
    >>> stats = ItemStats.from_log(log, table)                             # doctest: +SKIP
    >>> builder = FeatureBuilder(table, stats, sources=("als", "item_knn"))  # doctest: +SKIP
    >>> scores = {"als": s1, "item_knn": s2}                               # doctest: +SKIP
    >>> rows = builder.build(state, candidates, scores, now_us)            # doctest: +SKIP
    >>> rows.shape                                                         # doctest: +SKIP
    (len(candidates), builder.n_features)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from shopsense.ranking.affinity import affinity, recent_items
from shopsense.ranking.items import (
    RATE_PRIOR,
    US_PER_DAY,
    FloatArray,
    IntArray,
    ItemStats,
    ItemTable,
    tokens,
)
from shopsense.ranking.shopper import ShopperState, values_at

#: A purchase this recent (same visit) puts the shopper in "complements" context.
COMPLEMENT_WINDOW_US = 2 * 3600 * 1_000_000


FEATURES_PER_SOURCE = ("log_rank", "score_z")
ITEM_FEATURES = (
    "log_users",
    "log_recent",
    "ctr_logit",
    "cart_logit",
    "cvr_logit",
    "log_age_days",
    "in_stock",
    "price_z",
)
PAIR_FEATURES = (
    "leaf_share",
    "brand_share",
    "price_gap",
    "price_gap_sq",
    "overprice",
    "log_history",
    "log_engaged",
    "log_steps_since",
    "is_last",
    "log_skips",
    "shopper_ctr_logit",
    "after_purchase",
    "query_match",
    "click_affinity",
)


@dataclass(frozen=True)
class FeatureBuilder:
    """Turns a shopper's state, candidate items and retrieval scores into feature rows.

    ``blend``: weights of the retrieval blend; its score is one more source (``"blend"``),
    the ranker's strongest prior where little feedback is logged.
    """

    table: ItemTable
    stats: ItemStats
    sources: tuple[str, ...]
    blend: Mapping[str, float] = field(default_factory=dict)
    #: Sources whose scores are log-probabilities: they also enter as they are (``log_prob``).
    probabilistic: tuple[str, ...] = ()

    @property
    def scored(self) -> tuple[str, ...]:
        """The sources that get rank / z features (the blend last, when there is one)."""
        return (*self.sources, "blend") if self.blend else self.sources

    @property
    def feature_names(self) -> list[str]:
        per_source = [f"{s}.{f}" for s in self.scored for f in FEATURES_PER_SOURCE]
        per_source += [f"{s}.log_prob" for s in self.probabilistic]
        return per_source + list(ITEM_FEATURES) + list(PAIR_FEATURES)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def build(
        self,
        state: ShopperState,
        candidates: IntArray,
        source_scores: Mapping[str, FloatArray],
        now_us: int,
        query: str | None = None,
    ) -> FloatArray:
        """Feature rows ``(k, n_features)`` for ``candidates`` ``(k,)``.

        ``source_scores[name]`` holds that model's score of **every** item ``(n_items,)``
        for this shopper (the rank among all items is a feature).
        """
        matrix = np.stack(
            [
                blended(source_scores, self.blend)
                if name == "blend" and "blend" not in source_scores
                else np.asarray(source_scores[name])
                for name in self.scored
            ]
        )
        columns: list[npt.NDArray[np.floating]] = _ranks_and_z(matrix, candidates)
        for name in self.probabilistic:
            log_p = np.asarray(source_scores[name], np.float64)[candidates]
            columns.append(np.clip(np.nan_to_num(log_p, nan=-30.0, neginf=-30.0), -30.0, 0.0))
        table, stats = self.table, self.stats
        age_days = (now_us - table.created_us[candidates]) / US_PER_DAY
        columns += [
            stats.log_users[candidates],
            stats.log_recent[candidates],
            stats.ctr_logit[candidates],
            stats.cart_logit[candidates],
            stats.cvr_logit[candidates],
            np.log1p(np.clip(age_days, 0.0, None)),
            table.in_stock[candidates].astype(np.float64),
            table.price_z[candidates],
        ]
        total = max(float(state.leaf_counts.sum()), 1e-9)
        level = state.price_sum / state.engaged if state.engaged else 0.0
        gap = table.price_z[candidates] - level
        engaged = values_at(state.engaged_count, candidates)
        since = state.engaged - values_at(state.last_step, candidates, -1.0) - 1.0
        since[engaged == 0] = state.engaged + 1.0
        last = state.items[-1] if state.items else -1
        recent_purchase = now_us - state.last_purchase_us <= COMPLEMENT_WINDOW_US
        after = (
            stats.after_purchase[state.last_purchase_leaf, table.leaf[candidates]]
            if recent_purchase and state.last_purchase_leaf >= 0
            else np.zeros(candidates.size)
        )
        shopper_ctr = (state.n_clicked + RATE_PRIOR * stats.base_ctr) / (state.n_shown + RATE_PRIOR)
        columns += [
            state.leaf_counts[table.leaf[candidates]] / total,
            state.brand_counts[table.brand[candidates]] / total,
            gap,
            gap**2,
            np.maximum(gap, 0.0),
            np.full(candidates.size, np.log1p(state.engaged)),
            np.log1p(engaged),
            np.log1p(since),
            (candidates == last).astype(np.float64),
            np.log1p(state.skips(candidates)),
            np.full(candidates.size, math.log(shopper_ctr / (1 - shopper_ctr))),
            after,
            self._query_match(candidates, query),
            affinity(stats.affinity, recent_items(state.items), candidates),
        ]
        return np.stack(columns, axis=1).astype(np.float32)

    def _query_match(self, candidates: IntArray, query: str | None) -> npt.NDArray[np.float64]:
        """Share of the query's words in each candidate's title (0 without a query)."""
        words = tokens(query) if query else set()
        if not words:
            return np.zeros(candidates.size)
        return np.array([len(words & self.table.words[i]) / len(words) for i in candidates])


def blended(scores: Mapping[str, npt.ArrayLike], weights: Mapping[str, float]) -> FloatArray:
    """The blend of one shopper's source scores ``(n_items,)``: each source z-scored over
    its finite values, weighted and summed (``-inf`` where a weighted source has none)."""
    total: npt.NDArray[np.float64] | None = None
    for name, weight in weights.items():
        if not weight:
            continue
        values = np.asarray(scores[name], np.float64)
        finite = np.isfinite(values)
        mean = values[finite].mean() if finite.any() else 0.0
        spread = values[finite].std() if finite.any() else 1.0
        part = float(weight) * (values - mean) / (spread or 1.0)
        total = part if total is None else total + part
    if total is None:
        raise ValueError("the blend has no model with a weight")
    result: FloatArray = total.astype(np.float32)
    return result


def _ranks_and_z(
    raw: npt.NDArray[np.floating], candidates: IntArray
) -> list[npt.NDArray[np.floating]]:
    """Each source's two features of each candidate, from its scores of all items (one row
    of ``raw`` ``(sources, n_items)`` per source): ``log1p`` of the candidate's 0-based rank
    (how many items score strictly higher) and its score's z-value over the source's finite
    scores (clipped to +-10). Non-finite scores count as -1e9 / 1e9."""
    scores = raw.astype(np.float64)
    if not np.isfinite(scores).all():
        scores = np.nan_to_num(scores, nan=-1e9, posinf=1e9, neginf=-1e9)
    finite = scores > -1e8
    if finite.all():
        mean, spread = scores.mean(axis=1), scores.std(axis=1) + 1e-9
    else:
        pairs = [
            (r[f].mean(), r[f].std() + 1e-9) if f.any() else (0.0, 1.0)
            for r, f in zip(scores, finite, strict=True)
        ]
        mean, spread = np.array(pairs).T
    ordered = np.sort(scores, axis=1)
    mine = scores[:, candidates]
    columns: list[npt.NDArray[np.floating]] = []
    for row in range(scores.shape[0]):
        above = ordered.shape[1] - np.searchsorted(ordered[row], mine[row], side="right")
        columns.append(np.log1p(above.astype(np.float64)))
        columns.append(np.clip((mine[row] - mean[row]) / spread[row], -10.0, 10.0))
    return columns
