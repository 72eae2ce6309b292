"""Levelled comparisons: exploration traffic that every policy then learns from.

``explore_shared`` serves ``sessions`` visits with an exploring logging policy (random
orders of a retrieval blend's candidates, each shown item logged with its exact
propensity) and appends their events to the shop's log. Every policy of the comparison is
then fitted on that same log, so none learns from traffic the others never see.

Example::

    >>> from shopsense.training import train_stack                            # doctest: +SKIP
    >>> world, events, later = explore_shared(
    ...     world, 4000, SimulationConfig(seed=0), train_stack
    ... )                                                                  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses

from shopsense.domain import Event
from shopsense.evaluation.policies import ExplorationPolicy, StackTrainer
from shopsense.evaluation.simulator.engine import ShopSimulator, SimulationConfig
from shopsense.evaluation.simulator.world import SimulatedShop
from shopsense.ranking.stack import StackConfig

#: The exploration traffic's own seed, apart from the evaluated traffic's.
EXPLORATION_SEED = 10_000


def explore_shared(
    world: SimulatedShop, sessions: int, config: SimulationConfig, train: StackTrainer
) -> tuple[SimulatedShop, list[Event], SimulationConfig]:
    """``world`` after ``sessions`` exploration visits (same settings as ``config``, its
    own seed, in the ``config.days`` before the evaluated traffic), those visits' events,
    and ``config`` moved on to start after them. ``train`` fits the retrieval blend whose
    candidates are explored (:func:`shopsense.training.train_stack`)."""
    blend_only = StackConfig(min_impressions=2**62, item_tower=False)
    stack = train(world.logged.dataset(), blend_only)
    seed = config.seed + EXPLORATION_SEED
    explore_config = dataclasses.replace(config, sessions=sessions, seed=seed)
    events: list[Event] = []
    simulator = ShopSimulator(world, explore_config)
    simulator.run(ExplorationPolicy(stack, seed=seed), sink=events.extend)
    later = dataclasses.replace(config, start_day=config.start_day + config.days)
    return world.with_logged(world.logged.with_events(events)), events, later
