"""Exploration with exact, logged propensities: epsilon-greedy per slot.

The serving policy ranks its candidates; each of the ``n`` shown slots then keeps its
greedy item with probability ``1 - epsilon``, or, with probability ``epsilon``, shows an
item drawn uniformly (without replacement) from the candidates ranked below the list
(when fewer candidates lie below the list than it has slots, only its last ``pool`` slots
may explore and the ones above them always keep their greedy item). By
symmetry every pool item is equally likely in any replaced slot, so the probability of
what was shown at each position is exact and cheap:

- a greedy item kept in its slot: ``1 - epsilon``;
- a pool item in a replaced slot: ``epsilon / pool_size``.

These propensities are logged with each impression; the ranker weighs by them and
off-policy estimators (:mod:`shopsense.evaluation.offpolicy`) need them. ``epsilon = 0``
is the greedy policy (propensity 1 for everything shown).

Example::

    >>> import numpy as np
    >>> shown, propensity = explore(np.arange(20), n=3, epsilon=0.0,
    ...                             rng=np.random.default_rng(0))
    >>> shown.tolist(), propensity.tolist()
    ([0, 1, 2], [1.0, 1.0, 1.0])
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from shopsense.errors import ConfigError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def explore(
    ranked: IntArray, n: int, epsilon: float, rng: np.random.Generator
) -> tuple[IntArray, FloatArray]:
    """The shown items ``(min(n, k),)`` and each one's propensity, from ``ranked`` ``(k,)``
    (every candidate, best first)."""
    if not 0.0 <= epsilon <= 1.0:
        raise ConfigError(f"exploration must be between 0 and 1, got {epsilon}")
    ranked = np.asarray(ranked, np.int64)
    shown = ranked[:n].copy()
    pool = ranked[n:]
    propensity = np.ones(shown.size)
    if epsilon == 0.0 or pool.size == 0 or shown.size == 0:
        return shown, propensity
    # Only the last ``min(n, pool)`` slots may explore, so that every slot that draws a
    # replacement finds one; the slots above them (when the pool is short) stay greedy.
    eligible = np.arange(max(shown.size - pool.size, 0), shown.size)
    replaced = eligible[rng.random(eligible.size) < epsilon]
    propensity[eligible] = 1.0 - epsilon
    if replaced.size:
        shown[replaced] = rng.choice(pool, size=replaced.size, replace=False)
        propensity[replaced] = epsilon / pool.size
    return shown, propensity
