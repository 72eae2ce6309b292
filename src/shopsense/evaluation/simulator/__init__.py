"""The closed-loop shop simulator (:mod:`.engine`) and the simulated shop (:mod:`.world`).

The hidden truth lives here and in :mod:`shopsense.synth`; policies
(:mod:`shopsense.evaluation.policies`) import neither (``tests/evaluation`` checks it).
"""

from shopsense.evaluation.simulator.engine import (
    PolicySummary,
    ShopSimulator,
    SimulationConfig,
    SimulationResult,
    plot_summaries,
)
from shopsense.evaluation.simulator.levelled import explore_shared
from shopsense.evaluation.simulator.world import SimulatedShop, disagreement_shifts

__all__ = [
    "PolicySummary",
    "ShopSimulator",
    "SimulatedShop",
    "SimulationConfig",
    "SimulationResult",
    "disagreement_shifts",
    "explore_shared",
    "plot_summaries",
]
