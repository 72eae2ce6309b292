"""Which products may come back: re-consumption learned per category from the event log.

Consumables come back (shoppers re-buy coffee, re-open the product they compare), a sofa
does not. For every leaf category the log says how often shoppers return to a product they
already had: among purchases, the share that re-buy a product the shopper bought before
(when the category has enough purchases); otherwise among engagement steps (consecutive
repeats of one product collapsed), the share on a product already engaged with. Categories
at or above ``threshold`` let seen products be recommended again; the others leave them out.

Example::

    >>> policy = RepeatPolicy.learn(log, table)                       # doctest: +SKIP
    >>> from shopsense.domain import Product
    >>> table = ItemTable.from_products([Product(id="coffee", title="Coffee", category="Food"),
    ...                                  Product(id="sofa", title="Sofa", category="Home")])
    >>> policy = RepeatPolicy(share=np.array([0.4, 0.01]), threshold=0.05)  # a learned one
    >>> policy.allows_seen                                             # (n_leaves,) bool
    array([ True, False])
    >>> policy.allowed(table, [0, 1], np.ones(2, bool))   # both seen: the coffee may come back
    array([ True, False])
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from shopsense.domain import DEFAULT_EVENT_WEIGHTS, EventKind
from shopsense.ranking.items import EventArrays, ItemTable

#: Purchases a leaf needs before its re-buy rate is trusted over its engagement repeats.
MIN_PURCHASES = 20
_ENGAGING = [k.value for k, w in DEFAULT_EVENT_WEIGHTS.items() if w > 0]


def _repeat_shares(
    user: npt.NDArray[np.int64], item: npt.NDArray[np.int64], leaf: npt.NDArray[np.int64], n: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per leaf ``(repeats, steps)``: steps on a product the user had before (in time order)."""
    repeats = np.zeros(n)
    steps = np.zeros(n)
    seen: set[tuple[int, int]] = set()
    for u, i, c in zip(user.tolist(), item.tolist(), leaf.tolist(), strict=True):
        steps[c] += 1
        if (u, i) in seen:
            repeats[c] += 1
        else:
            seen.add((u, i))
    return repeats, steps


@dataclass(frozen=True)
class RepeatPolicy:
    """Per leaf category: may products the shopper already engaged with come back?"""

    share: npt.NDArray[np.float64]
    threshold: float

    @property
    def allows_seen(self) -> npt.NDArray[np.bool_]:
        allowed: npt.NDArray[np.bool_] = self.share >= self.threshold
        return allowed

    @classmethod
    def learn(cls, log: EventArrays, table: ItemTable, threshold: float = 0.05) -> RepeatPolicy:
        """The repeat share of every leaf in ``log`` (time-ordered)."""
        has = log.item >= 0
        user, item, kind = log.user[has], log.item[has], log.kind[has]
        leaf = table.leaf[item]
        bought = kind == EventKind.PURCHASE.value
        buy_repeats, buys = _repeat_shares(user[bought], item[bought], leaf[bought], table.n_leaves)
        engaged = np.isin(kind, _ENGAGING)
        u, i, c = user[engaged], item[engaged], leaf[engaged]
        order = np.lexsort((np.arange(u.size), u))  # per user, in time order
        u, i, c = u[order], i[order], c[order]
        step = np.ones(u.size, bool)  # consecutive repeats of one product are one step
        step[1:] = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
        view_repeats, views = _repeat_shares(u[step], i[step], c[step], table.n_leaves)
        return cls.from_counts(buy_repeats, buys, view_repeats, views, threshold)

    @classmethod
    def from_counts(
        cls,
        buy_repeats: npt.NDArray[np.float64],
        buys: npt.NDArray[np.float64],
        view_repeats: npt.NDArray[np.float64],
        views: npt.NDArray[np.float64],
        threshold: float = 0.05,
    ) -> RepeatPolicy:
        """From per-leaf counts (computed here or by a Spark job): purchases and engagement
        steps, and how many of each were on a product the shopper had before. A leaf with
        :data:`MIN_PURCHASES` purchases is judged by its re-buys, others by engagements."""
        share = np.where(
            buys >= MIN_PURCHASES,
            buy_repeats / np.maximum(buys, 1),
            view_repeats / np.maximum(views, 1),
        )
        return cls(share, threshold)

    @classmethod
    def never(cls, table: ItemTable) -> RepeatPolicy:
        """Seen products never come back (the classic recommender rule)."""
        return cls(np.zeros(table.n_leaves), 1.1)

    def allowed(
        self,
        table: ItemTable,
        seen: Iterable[int],
        mask: npt.NDArray[np.bool_],
        exclude_seen: bool | None = None,
    ) -> npt.NDArray[np.bool_]:
        """``mask`` with the shopper's ``seen`` items removed where they may not come back.

        ``exclude_seen``: ``None`` follows the learned per-category rule; ``True`` / ``False``
        leaves every seen item out / in.
        """
        items = np.fromiter(seen, np.int64)
        items = items[(items >= 0) & (items < mask.size)]
        if exclude_seen is False or items.size == 0:
            return mask
        out = mask.copy()
        if exclude_seen:
            out[items] = False
        else:
            out[items[~self.allows_seen[table.leaf[items]]]] = False
        return out

    def summary(self, table: ItemTable) -> dict[str, float]:
        """The repeat share of each named leaf (for reports)."""
        names = table.leaf_names or [""]
        return {
            name or "(all)": round(float(s), 4) for name, s in zip(names, self.share, strict=False)
        }

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "repeats.json").write_text(
            json.dumps({"share": self.share.tolist(), "threshold": self.threshold})
        )

    @classmethod
    def load(cls, directory: Path) -> RepeatPolicy:
        data = json.loads((directory / "repeats.json").read_text())
        return cls(np.asarray(data["share"], np.float64), float(data["threshold"]))
