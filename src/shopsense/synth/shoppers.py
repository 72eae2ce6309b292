"""The sample shop's shoppers and their hidden tastes.

Each shopper has a sparse preference over leaf categories (a few favourites in one or two
departments, a little interest in everything else), affinities for a few brands, a price
level and price sensitivity, and a latent taste vector matched against the products'
latent style. How often a shopper visits is heavy-tailed: many light shoppers, a few heavy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Share of a shopper's category preference spread over the whole shop (exploration).
BACKGROUND_SHARE = 0.12
#: Log-spread of visit frequency across shoppers (log-normal activity).
ACTIVITY_SIGMA = 0.8


@dataclass(frozen=True)
class Shoppers:
    """Hidden tastes of ``n_users`` shoppers; row ``u`` of each array is ``user_ids[u]``.

    ``category_pref``: ``(n_users, n_leaves)``, rows sum to 1.
    ``brand_affinity``: ``(n_users, n_brands)``, additive utility.
    ``taste``: ``(n_users, latent_dim)``, dotted with the products' unit latent vectors.
    ``price_level``: ``(n_users,)``, preferred price position within a leaf (z units).
    ``price_sensitivity``: ``(n_users,)``, how much a price away from that level hurts.
    ``activity``: ``(n_users,)``, relative visit frequency (mean 1).
    ``search_rate``: ``(n_users,)``, probability that a list comes from a search.
    """

    user_ids: list[str]
    category_pref: npt.NDArray[np.float64]
    brand_affinity: npt.NDArray[np.float64]
    taste: npt.NDArray[np.float64]
    price_level: npt.NDArray[np.float64]
    price_sensitivity: npt.NDArray[np.float64]
    activity: npt.NDArray[np.float64]
    search_rate: npt.NDArray[np.float64]


def user_id(index: int, n_users: int) -> str:
    """``U0001`` for the first shopper (wider when there are more shoppers)."""
    return f"U{index + 1:0{max(4, len(str(n_users)))}d}"


def build_shoppers(
    n_users: int,
    *,
    leaf_department: npt.NDArray[np.intp],
    leaf_weight: npt.NDArray[np.float64],
    brand_department: npt.NDArray[np.intp],
    department_weight: npt.NDArray[np.float64],
    rng: np.random.Generator,
    latent_dim: int = 16,
) -> Shoppers:
    """Draw the shoppers' hidden tastes.

    ``leaf_weight`` (``(n_leaves,)``) is the shop-wide interest in each leaf and
    ``department_weight`` (``(n_departments,)``) that in each department.
    """
    n_leaves = leaf_department.size
    n_brands = brand_department.size
    n_departments = department_weight.size
    leaf_share = leaf_weight / leaf_weight.sum()
    department_share = department_weight / department_weight.sum()

    category_pref = np.empty((n_users, n_leaves))
    brand_affinity = rng.normal(0.0, 0.3, (n_users, n_brands))
    for u in range(n_users):
        n_favourite_departments = 1 + int(rng.random() < 0.45)
        departments = rng.choice(
            n_departments, size=n_favourite_departments, replace=False, p=department_share
        )
        candidates = np.flatnonzero(np.isin(leaf_department, departments))
        k = min(candidates.size, int(rng.integers(2, 6)))
        weight = leaf_share[candidates] / leaf_share[candidates].sum()
        favourites = rng.choice(candidates, size=k, replace=False, p=weight)
        if rng.random() < 0.35:  # one interest outside the favourite departments
            favourites = np.unique(np.append(favourites, rng.choice(n_leaves, p=leaf_share)))
        focus = np.zeros(n_leaves)
        focus[favourites] = rng.dirichlet(np.full(favourites.size, 1.5))
        category_pref[u] = (1.0 - BACKGROUND_SHARE) * focus + BACKGROUND_SHARE * leaf_share

        loved_pool = np.flatnonzero(np.isin(brand_department, departments))
        loved = rng.choice(loved_pool, size=min(loved_pool.size, int(rng.integers(1, 4))))
        brand_affinity[u, loved] += rng.uniform(0.6, 1.3, loved.size)

    pickiness = rng.uniform(3.0, 5.0, (n_users, 1))
    taste = rng.normal(size=(n_users, latent_dim)) * pickiness / np.sqrt(latent_dim)
    activity = rng.lognormal(0.0, ACTIVITY_SIGMA, n_users)
    return Shoppers(
        user_ids=[user_id(u, n_users) for u in range(n_users)],
        category_pref=category_pref,
        brand_affinity=brand_affinity,
        taste=taste,
        price_level=rng.normal(0.0, 0.7, n_users),
        price_sensitivity=rng.lognormal(np.log(0.3), 0.5, n_users),
        activity=activity / activity.mean(),
        search_rate=rng.beta(2.0, 3.0, n_users),
    )


def session_counts(
    activity: npt.NDArray[np.float64], sessions_per_user: float, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Sessions per shopper: ``sessions_per_user`` on average, heavy-tailed, and at least
    two for everyone when the mean allows (one visit says little about a shopper).

    ``activity`` has shape ``(n_users,)`` and mean 1.
    """
    floor = 2 if sessions_per_user >= 2.5 else 1
    extra = max(sessions_per_user - floor, 0.0) * activity
    return (floor + rng.poisson(extra)).astype(np.int64)
