"""A simulated shop: the hidden truth the shoppers act on, beside what the shop logged.

Only the simulator reads :attr:`SimulatedShop.truth`; policies get :attr:`SimulatedShop.logged`
(:class:`~shopsense.evaluation.policies.LoggedShop`: the catalog and the event log).

Example::

    >>> world = SimulatedShop.from_shop(generate_shop(ShopConfig(n_products=500)))  # doctest: +SKIP
    >>> world.logged.table.item_ids[:2]                                           # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from shopsense.errors import ConfigError
from shopsense.evaluation.policies import LoggedShop
from shopsense.synth import SampleShop
from shopsense.synth.queries import make_query
from shopsense.synth.truth import GroundTruth
from shopsense.synth.vocabulary import LEAVES, LeafCategory


@dataclass
class SimulatedShop:
    """The truth, the logged shop, and what shoppers type when they search a leaf."""

    truth: GroundTruth
    logged: LoggedShop
    leaves: list[LeafCategory] = field(init=False, repr=False)
    leaf_brands: list[tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if list(self.logged.table.item_ids) != list(self.truth.item_ids):
            raise ConfigError(
                "the logged shop must list the sample shop's products in catalog order; "
                "build it with SimulatedShop.from_shop(shop)"
            )
        by_path = {leaf.path: leaf for leaf in LEAVES}
        self.leaves = [by_path[path] for path in self.truth.category_paths]
        brands: dict[str, set[str]] = {}
        for product in self.logged.products:
            department = product.category[0] if product.category else ""
            if product.brand:
                brands.setdefault(department, set()).add(product.brand)
        self.leaf_brands = [tuple(sorted(brands.get(leaf.department, ()))) for leaf in self.leaves]

    @classmethod
    def from_shop(cls, shop: SampleShop) -> SimulatedShop:
        return cls(shop.truth, LoggedShop.from_events(shop.products, shop.events))

    def with_logged(self, logged: LoggedShop) -> SimulatedShop:
        """The same truth with another log (after shared exploration traffic)."""
        return SimulatedShop(self.truth, logged)

    def query_for(self, user: int, rng: np.random.Generator) -> tuple[str, int]:
        """A query the shopper types: a leaf by their taste, in that leaf's words."""
        preference = self.truth.user_category_pref[user]
        leaf = int(rng.choice(preference.size, p=preference / preference.sum()))
        return make_query(self.leaves[leaf], self.leaf_brands[leaf], rng), leaf


def disagreement_shifts(
    n_items: int, strength: float, seed: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-item ``(click, buy)`` utility shifts that make clicking and buying disagree with
    browsing: a third of the products become "clickbait" (more clicks, fewer purchases) or
    "hidden gems" (the opposite), by ``strength`` utility units. Zero strength: no shift."""
    if strength <= 0:
        zero = np.zeros(n_items)
        return zero, zero.copy()
    rng = np.random.default_rng([seed, 99])
    chosen = rng.random(n_items) < 1.0 / 3.0
    sign = np.where(rng.random(n_items) < 0.5, 1.0, -1.0)
    click = np.where(chosen, sign * strength, 0.0)
    return click, -click
