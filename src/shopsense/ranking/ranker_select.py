"""How the ranker chooses, on held-out requests, how much its item effects shrink and what
its click head learns beyond the monotone prior (see :mod:`shopsense.ranking.ranker`).

Each choice compares per-impression held-out losses, paired: the item-effect strength is the
largest within one standard error of the best, and the click head's residual (none, linear,
wide + deep) must beat the prior-only head by more than two standard errors to be kept.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from shopsense.ranking.ranker_net import (
    RESIDUAL_FULL,
    RESIDUAL_LEVELS,
    RESIDUAL_LINEAR,
    RESIDUAL_NONE,
    NetSpec,
    row_losses,
    train_net,
)

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
#: Item-effect shrinkage strengths tried first when ``item_l2`` is not given.
ITEM_L2_GRID = (2.0, 8.0, 32.0, 128.0)
#: When the weakest strength of the grid is the best, the search steps past it (by the
#: grid's factor of 4) up to this many times: the best may lie beyond what was tried. It
#: never steps past the strongest: at 128 the effects already stay within about 0.06 of a
#: logit, so stronger settings barely move a prediction, yet on noise the one-standard-error
#: rule would take them and switch the item effects off (on the README's example shop a
#: product shown and clicked 1 time in 5 then lost to one never shown).
ITEM_L2_EXTEND = 2


class Choosing(NetSpec, Protocol):
    """What the choices read from and record on a ranker (a ``MultiTaskRanker``)."""

    item_l2: float | None
    residual: str
    selection_: dict[str, Any]
    validation_curve_: FloatArray


def choose_residual(held: dict[int, npt.NDArray[np.float64]]) -> tuple[int, dict[str, Any]]:
    """The click head's residual level from each level's held-out per-row losses (the
    same rows, level 0 among them): of the levels whose loss is below level 0's by more
    than two standard errors of the paired difference, the one with the lowest mean loss;
    level 0 when none is. Returns the level and what decided it."""
    report: dict[str, Any] = {"losses": {str(k): float(v.mean()) for k, v in held.items()}}
    passed = []
    for level, losses in held.items():
        if level == RESIDUAL_NONE:
            continue
        gain = held[RESIDUAL_NONE] - losses
        se = float(gain.std(ddof=1) / math.sqrt(gain.size)) if gain.size > 1 else math.inf
        report[f"gain_{level}"] = [float(gain.mean()), se]
        if gain.mean() > 2.0 * se:
            passed.append(level)
    kept = min(passed, key=lambda k: float(held[k].mean())) if passed else RESIDUAL_NONE
    report["residual"] = kept
    return kept, report


def choose_strength(
    held_losses: Callable[[float], npt.NDArray[np.float64]],
    grid: Sequence[float],
    extend: int = ITEM_L2_EXTEND,
) -> tuple[float, dict[float, npt.NDArray[np.float64]]]:
    """The item-effect shrinkage: ``held_losses(strength)`` gives the held-out per-row
    losses of a fit at that strength (the same rows for every strength). Tries ``grid``
    (weakest first); while its weakest is the best (and ``extend`` steps remain) it tries
    one step weaker (the factor between the grid's first two strengths). Returns the
    strongest strength within one standard error (paired per row) of the best, and every
    loss."""
    losses = {float(g): held_losses(float(g)) for g in grid}
    factor = grid[1] / grid[0] if len(grid) > 1 else 1.0

    def best() -> float:
        return min(losses, key=lambda g: float(losses[g].mean()))

    for _ in range(extend if factor > 1.0 else 0):
        if best() != min(losses):
            break
        weaker = min(losses) / factor
        losses[weaker] = held_losses(weaker)
    chosen = best()

    def close(g: float) -> bool:
        diff = losses[g] - losses[chosen]
        return bool(diff.mean() <= diff.std(ddof=1) / math.sqrt(max(diff.size, 1)))

    return max(g for g in losses if g == chosen or close(g)), losses


def choose_heads(
    ranker: Choosing,
    train: list[npt.NDArray[Any]],
    valid: list[npt.NDArray[Any]],
    knots: FloatArray,
) -> tuple[int, int]:
    """What the click head learns beyond the prior and item effects, and how many
    updates: ``residual="auto"`` keeps, of the linear and the wide + deep click heads,
    those whose held-out loss is below the prior-only head's by more than two standard
    errors of the paired per-impression difference, and of those the lowest loss."""
    per_epoch = math.ceil(train[0].shape[0] / ranker.batch_size)
    ranker.selection_ = {}
    fits = {}
    plain: dict[float, tuple[Any, FloatArray, int]] = {}

    def attempt(strength: float) -> npt.NDArray[np.float64]:
        ranker.item_l2_ = strength
        plain[strength] = train_net(ranker, train, valid, None, knots, RESIDUAL_NONE)
        return row_losses(plain[strength][0], valid)

    if ranker.item_l2 is None:
        ranker.item_l2_, losses = choose_strength(attempt, ITEM_L2_GRID, ITEM_L2_EXTEND)
        ranker.selection_["item_l2_losses"] = {
            str(g): float(v.mean()) for g, v in sorted(losses.items())
        }
    else:
        ranker.item_l2_ = float(ranker.item_l2)
    ranker.selection_["item_l2"] = ranker.item_l2_
    levels = (
        (RESIDUAL_NONE, RESIDUAL_LINEAR, RESIDUAL_FULL)
        if ranker.residual == "auto"
        else (RESIDUAL_LEVELS[ranker.residual],)
    )
    for level in levels:
        if level == RESIDUAL_NONE and ranker.item_l2_ in plain:
            fits[level] = plain[ranker.item_l2_]
        else:
            fits[level] = train_net(ranker, train, valid, None, knots, level)
    kept = levels[0]
    if len(levels) > 1:
        held = {level: row_losses(fits[level][0], valid) for level in levels}
        kept, report = choose_residual(held)
        ranker.selection_ |= report
        log.info("ranker residual %s: %s", kept, ranker.selection_)
    _, curve, best_epoch = fits[kept]
    ranker.validation_curve_ = curve
    return kept, max(best_epoch, 1) * per_epoch
