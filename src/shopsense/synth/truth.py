"""Everything the sample shop hides: tastes, latents, popularity drift and behaviour rules.

The session generator decides every click and purchase with the methods of
:class:`GroundTruth`, so a later simulator can ask the same shopper the same question
("would U0042 click P01234 at position 3?") and get the answer the data was drawn from.

The utility of item ``i`` for user ``u`` at day ``t`` is::

    category_weight * log(n_leaves * category_pref[u, leaf(i)] + category_floor)
    + taste[u] . latent[i] + brand_affinity[u, brand(i)] + quality[i]
    - price_weight * price_sensitivity[u] * (price_z[i] - price_level[u]) ** 2
    + log_popularity[i](t) (+ complement_boost right after buying a complementary item)

A click needs examination ``(1 + position) ** -position_bias`` and attraction
``sigmoid(utility + click_bias)``; a viewed item is added to the cart with probability
``sigmoid(cart_slope * utility + cart_bias - afford_weight * sensitivity * overprice)``
and bought from the cart with ``sigmoid(purchase_bias + 0.3 * utility)``.
Out-of-stock items are never carted.

Example::

    >>> truth = GroundTruth.load(Path("shop/truth"))            # doctest: +SKIP
    >>> truth.click_probability("U0042", "P01234", position=3)  # doctest: +SKIP
    0.031
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FORMAT_VERSION = 1
_ARRAYS = (
    "user_category_pref",
    "user_brand_affinity",
    "user_taste",
    "user_price_level",
    "user_price_sensitivity",
    "user_activity",
    "user_search_rate",
    "item_category",
    "item_brand",
    "item_latent",
    "item_quality",
    "item_price_z",
    "item_in_stock",
    "item_created_us",
    "popularity_base",
    "popularity_slope",
    "trend_amplitude",
    "trend_center",
    "trend_width",
)
_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class BehaviourParams:
    """How utility turns into clicks, carts and purchases (see the module docstring)."""

    position_bias: float = 0.7
    category_weight: float = 0.6
    category_floor: float = 0.05
    price_weight: float = 0.5
    click_bias: float = -3.45
    cart_slope: float = 0.8
    cart_bias: float = -5.0
    purchase_bias: float = -1.5
    afford_weight: float = 0.8
    complement_boost: float = 3.0


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(eq=False)
class GroundTruth:
    """The hidden state of a sample shop. User arrays are ``(n_users, ...)`` in
    ``user_ids`` order, item arrays ``(n_items, ...)`` in ``item_ids`` order; days count
    from ``start`` (the window is ``start`` to ``end``)."""

    start: datetime
    end: datetime
    user_ids: list[str]
    item_ids: list[str]
    category_paths: list[str]
    brands: list[str]
    user_category_pref: npt.NDArray[np.float64]
    user_brand_affinity: npt.NDArray[np.float64]
    user_taste: npt.NDArray[np.float64]
    user_price_level: npt.NDArray[np.float64]
    user_price_sensitivity: npt.NDArray[np.float64]
    user_activity: npt.NDArray[np.float64]
    user_search_rate: npt.NDArray[np.float64]
    item_category: npt.NDArray[np.intp]
    item_brand: npt.NDArray[np.intp]
    item_latent: npt.NDArray[np.float64]
    item_quality: npt.NDArray[np.float64]
    item_price_z: npt.NDArray[np.float64]
    item_in_stock: npt.NDArray[np.bool_]
    item_created_us: npt.NDArray[np.int64]
    popularity_base: npt.NDArray[np.float64]
    popularity_slope: npt.NDArray[np.float64]
    trend_amplitude: npt.NDArray[np.float64]
    trend_center: npt.NDArray[np.float64]
    trend_width: npt.NDArray[np.float64]
    complements: dict[str, list[str]]
    params: BehaviourParams = field(default_factory=BehaviourParams)
    _user_index: dict[str, int] = field(init=False, repr=False, compare=False)
    _item_index: dict[str, int] = field(init=False, repr=False, compare=False)
    complement_matrix: npt.NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._user_index = {u: i for i, u in enumerate(self.user_ids)}
        self._item_index = {p: i for i, p in enumerate(self.item_ids)}
        leaf_index = {c: i for i, c in enumerate(self.category_paths)}
        matrix = np.zeros((len(self.category_paths), len(self.category_paths)))
        for leaf, partners in self.complements.items():
            for partner in partners:
                matrix[leaf_index[leaf], leaf_index[partner]] = 1.0 / len(partners)
        self.complement_matrix = matrix

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86_400.0

    # -- public questions, by id ------------------------------------------------------------

    def utility(
        self,
        user_id: str,
        item_ids: Sequence[str],
        at: datetime | None = None,
        *,
        after_purchase_of: str | None = None,
    ) -> npt.NDArray[np.float64]:
        """Utility of ``item_ids`` for ``user_id`` at ``at`` (default: the window's end).

        ``after_purchase_of`` is an item the shopper just bought: complements of its
        category get ``complement_boost``. Returns shape ``(len(item_ids),)``.
        """
        items = np.array([self.item_index(i) for i in item_ids], dtype=np.intp)
        context = -1 if after_purchase_of is None else self._leaf_of(after_purchase_of)
        return self.utilities(self.user_index(user_id), items, self.day(at), context)

    def click_probability(
        self,
        user_id: str,
        item_id: str,
        position: int,
        at: datetime | None = None,
        *,
        after_purchase_of: str | None = None,
    ) -> float:
        """Probability that the shopper clicks ``item_id`` shown at 0-based ``position``."""
        items = np.array([self.item_index(item_id)], dtype=np.intp)
        context = -1 if after_purchase_of is None else self._leaf_of(after_purchase_of)
        probability = self.click_probabilities(
            self.user_index(user_id), items, np.array([position]), self.day(at), context
        )
        return float(probability[0])

    def purchase_probability(
        self,
        user_id: str,
        item_id: str,
        at: datetime | None = None,
        *,
        after_purchase_of: str | None = None,
    ) -> float:
        """Probability that the shopper buys ``item_id`` once on its product page
        (adds it to the cart, then checks it out)."""
        items = np.array([self.item_index(item_id)], dtype=np.intp)
        context = -1 if after_purchase_of is None else self._leaf_of(after_purchase_of)
        cart, buy = self.cart_and_buy_probabilities(
            self.user_index(user_id), items, self.day(at), context
        )
        return float(cart[0] * buy[0])

    def examination(self, position: int) -> float:
        """Probability that a shopper looks at 0-based ``position`` of a list."""
        return float((1.0 + position) ** -self.params.position_bias)

    def complements_of(self, category: str) -> list[str]:
        """Leaf categories bought together with ``category`` ("A > B > C")."""
        return list(self.complements.get(category, []))

    def user_index(self, user_id: str) -> int:
        try:
            return self._user_index[user_id]
        except KeyError:
            raise KeyError(
                f"unknown user id {user_id!r}; the sample shop has no such shopper"
            ) from None

    def item_index(self, item_id: str) -> int:
        try:
            return self._item_index[item_id]
        except KeyError:
            raise KeyError(
                f"unknown product id {item_id!r}; it is not in the sample catalog"
            ) from None

    def day(self, at: datetime | None) -> float:
        """Days since ``start`` (``at`` must be timezone-aware); None means the window's end."""
        return self.days if at is None else (at - self.start).total_seconds() / 86_400.0

    # -- vectorised internals, by index (what the generator calls) --------------------------

    def log_popularity(self, items: npt.NDArray[np.intp], day: float) -> npt.NDArray[np.float64]:
        """Log popularity multiplier of ``items`` (shape ``(k,)``) at ``day``: a base level,
        a slow drift over the window and a trend that rises and fades."""
        bump = np.exp(-0.5 * ((day - self.trend_center[items]) / self.trend_width[items]) ** 2)
        drift = self.popularity_slope[items] * (day / max(self.days, 1.0) - 0.5)
        return self.popularity_base[items] + drift + self.trend_amplitude[items] * bump

    def utilities(
        self, user: int, items: npt.NDArray[np.intp], day: float, context_leaf: int = -1
    ) -> npt.NDArray[np.float64]:
        """Utilities of ``items`` (shape ``(k,)``) for user index ``user``."""
        p = self.params
        leaf = self.item_category[items]
        n_leaves = self.user_category_pref.shape[1]
        category = p.category_weight * np.log(
            n_leaves * self.user_category_pref[user, leaf] + p.category_floor
        )
        taste = self.item_latent[items] @ self.user_taste[user]
        brand = self.user_brand_affinity[user, self.item_brand[items]]
        gap = self.item_price_z[items] - self.user_price_level[user]
        price = -p.price_weight * self.user_price_sensitivity[user] * gap**2
        value: npt.NDArray[np.float64] = (
            category + taste + brand + price + self.item_quality[items]
        ) + self.log_popularity(items, day)
        if context_leaf >= 0:
            value = value + p.complement_boost * (self.complement_matrix[context_leaf, leaf] > 0)
        return value

    def click_probabilities(
        self,
        user: int,
        items: npt.NDArray[np.intp],
        positions: npt.NDArray[np.int_],
        day: float,
        context_leaf: int = -1,
        shift: npt.NDArray[np.float64] | None = None,
    ) -> npt.NDArray[np.float64]:
        """Click probabilities of ``items`` shown at ``positions`` (both shape ``(k,)``);
        ``shift`` ``(n_items,)`` adds a per-item utility for clicks only (a simulator whose
        click appeal differs from browsing appeal)."""
        utility = self.utilities(user, items, day, context_leaf)
        if shift is not None:
            utility = utility + shift[items]
        attraction = _sigmoid(utility + self.params.click_bias)
        examination = (1.0 + positions) ** -self.params.position_bias
        return np.asarray(examination * attraction, dtype=np.float64)

    def cart_and_buy_probabilities(
        self,
        user: int,
        items: npt.NDArray[np.intp],
        day: float,
        context_leaf: int = -1,
        shift: npt.NDArray[np.float64] | None = None,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(P(add to cart | viewed), P(purchase | in cart))`` for ``items`` (shape ``(k,)``);
        ``shift`` ``(n_items,)`` adds a per-item utility for carts and purchases only."""
        p = self.params
        value = self.utilities(user, items, day, context_leaf)
        if shift is not None:
            value = value + shift[items]
        overprice = np.maximum(self.item_price_z[items] - self.user_price_level[user], 0.0)
        afford = p.afford_weight * self.user_price_sensitivity[user] * overprice
        cart = _sigmoid(p.cart_slope * value + p.cart_bias - afford) * self.item_in_stock[items]
        buy = _sigmoid(p.purchase_bias + 0.3 * value)
        return cart, buy

    def _leaf_of(self, item_id: str) -> int:
        return int(self.item_category[self.item_index(item_id)])

    # -- persistence ------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write ``truth.npz`` (arrays) and ``truth.json`` (ids, names, parameters)."""
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            directory / "truth.npz", **{name: getattr(self, name) for name in _ARRAYS}
        )
        meta = {
            "format_version": FORMAT_VERSION,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "user_ids": self.user_ids,
            "item_ids": self.item_ids,
            "category_paths": self.category_paths,
            "brands": self.brands,
            "complements": self.complements,
            "params": asdict(self.params),
        }
        (directory / "truth.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> GroundTruth:
        """Read what :meth:`save` wrote (no pickle involved)."""
        meta: dict[str, Any] = json.loads((directory / "truth.json").read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{directory}/truth.json has format version {meta.get('format_version')!r}, "
                f"expected {FORMAT_VERSION}; regenerate the sample shop"
            )
        with np.load(directory / "truth.npz", allow_pickle=False) as data:
            arrays = {name: data[name] for name in _ARRAYS}
        return cls(
            start=datetime.fromisoformat(meta["start"]),
            end=datetime.fromisoformat(meta["end"]),
            user_ids=list(meta["user_ids"]),
            item_ids=list(meta["item_ids"]),
            category_paths=list(meta["category_paths"]),
            brands=list(meta["brands"]),
            complements={k: list(v) for k, v in meta["complements"].items()},
            params=BehaviourParams(**meta["params"]),
            **arrays,
        )


def draw_popularity_drift(
    created_day: npt.NDArray[np.float64], days: float, rng: np.random.Generator
) -> dict[str, npt.NDArray[np.float64]]:
    """Per-item popularity: base level, slow drift, and trends that rise and fade.

    ``created_day`` (shape ``(n_items,)``) is each item's launch in days since the window's
    start; items launched inside the window often get a launch trend shortly after.
    """
    n = created_day.size
    trending = rng.random(n) < 0.2
    launched = (created_day > 0) & (rng.random(n) < 0.6)
    center = np.where(launched, created_day + rng.uniform(2, 10, n), rng.uniform(-10, days + 10, n))
    amplitude = np.where(trending | launched, rng.uniform(0.4, 1.4, n), 0.0)
    return {
        "popularity_base": rng.normal(0.0, 0.5, n),
        "popularity_slope": rng.normal(0.0, 0.4, n),
        "trend_amplitude": amplitude,
        "trend_center": center,
        "trend_width": rng.uniform(3.0, 12.0, n),
    }
