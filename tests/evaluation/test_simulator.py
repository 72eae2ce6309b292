"""The closed-loop simulator on a tiny sample shop."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from shopsense.domain import Event, EventKind
from shopsense.errors import ConfigError
from shopsense.evaluation.abtest import analyze, assign_variant
from shopsense.evaluation.policies import (
    ExplorationPolicy,
    RandomPolicy,
    Request,
    SimulationWorld,
    build_policies,
)
from shopsense.evaluation.simulator import ShopSimulator, SimulationConfig
from shopsense.experiments import Experiment, Variant
from shopsense.models.ranker import MultiTaskRanker
from shopsense.ranking.features import FeatureBuilder, IntArray, ItemStats
from shopsense.ranking.training import fit_sources, interaction_data
from shopsense.synth import ShopConfig, generate_shop

TINY = ShopConfig(n_products=150, n_users=40, days=20, seed=3)


@pytest.fixture(scope="module")
def world() -> SimulationWorld:
    return SimulationWorld.from_shop(generate_shop(TINY))


class BestItemPolicy:
    """Always shows the same items, to check that reactions follow the truth."""

    name = "fixed"

    def __init__(self, items: IntArray) -> None:
        self.items = items
        self.seen: list[Event] = []

    def recommend(self, requests: Sequence[Request]) -> list[IntArray]:
        return [self.items[r.allowed[self.items]][: r.n] for r in requests]

    def observe(self, events: Sequence[Event]) -> None:
        self.seen += events


def test_events_flow_back_and_runs_repeat(world: SimulationWorld) -> None:
    sim = ShopSimulator(world.truth, world.table, world.states, SimulationConfig(sessions=150))
    policy = BestItemPolicy(np.arange(20, dtype=np.int64))
    sink: list[Event] = []
    result = sim.run(policy, sink=sink.extend)
    assert len(result.user_ids) == 150
    assert sink and policy.seen == sink
    kinds = {e.kind for e in sink}
    assert EventKind.IMPRESSION in kinds and EventKind.CLICK in kinds
    assert sum(e.kind is EventKind.CLICK for e in sink) == result.clicks.sum()
    assert sum(e.kind is EventKind.IMPRESSION for e in sink) == result.impressions.sum()
    # a shopper's state is not mutated in the world: every run starts from the log
    assert world.states == sim.history
    again = sim.run(BestItemPolicy(np.arange(20, dtype=np.int64)))
    assert np.array_equal(again.purchases, result.purchases)
    summary = result.summary()
    low, high = summary.conversion_ci95
    assert low <= summary.conversion_rate <= high


def test_shown_items_exclude_history_and_stock_outs(world: SimulationWorld) -> None:
    sim = ShopSimulator(world.truth, world.table, world.states, SimulationConfig(sessions=60))
    shown: list[tuple[set[int], set[int]]] = []

    class Spy(RandomPolicy):
        def recommend(self, requests: Sequence[Request]) -> list[IntArray]:
            lists = super().recommend(requests)
            for r, items in zip(requests, lists, strict=True):
                shown.append((set(items.tolist()), set(r.state.items)))
            return lists

    sim.run(Spy())
    out_of_stock = set(np.flatnonzero(~world.table.in_stock).tolist())
    assert shown and all(not (items & (history | out_of_stock)) for items, history in shown)


def test_utility_drives_conversion(world: SimulationWorld) -> None:
    """Showing the items the truth likes most converts more than the ones it likes least
    (a check of the simulator's wiring, not a policy: policies never see the truth)."""
    truth = world.truth
    mean_utility = np.mean(
        [truth.utilities(u, np.arange(len(world.table)), truth.days) for u in range(40)], axis=0
    )
    order = np.argsort(-mean_utility)
    sim = ShopSimulator(truth, world.table, world.states, SimulationConfig(sessions=300))
    best = sim.run(BestItemPolicy(order[:60].astype(np.int64))).summary()
    worst = sim.run(BestItemPolicy(order[-60:].astype(np.int64))).summary()
    assert best.ctr > 2 * worst.ctr


def test_exploration_logs_labelled_rows_and_ab_routing(world: SimulationWorld) -> None:
    data = interaction_data(world.log, world.user_ids, world.table)
    sources = fit_sources(data, {"popularity": {}, "transition": {}})
    builder = FeatureBuilder(world.table, ItemStats.from_log(world.log, world.table), sources.names)
    explorer = ExplorationPolicy(sources, builder)
    sim = ShopSimulator(world.truth, world.table, world.states, SimulationConfig(sessions=200))
    result = sim.run(explorer)
    rows = explorer.logged()
    assert rows.features.shape == (result.impressions.sum(), builder.n_features)
    assert rows.click.sum() == result.clicks.sum()
    assert np.all(rows.purchase <= rows.click)

    experiment = Experiment(name="t", variants=[Variant(name="a"), Variant(name="b")])
    arms = {"a": RandomPolicy(), "b": explorer}
    routed = sim.run(lambda user: arms[assign_variant(experiment, user)])
    report = analyze(experiment, routed.per_user(), resamples=100)
    assert sum(v.users for v in report.variants) == len(set(routed.user_ids))


def test_build_policies(world: SimulationWorld) -> None:
    policies = build_policies(
        world,
        ["random", "popularity", "full_stack"],
        ranker=MultiTaskRanker(epochs=1, hidden=8),
        explore_sessions=150,
        sources={"popularity": {}, "transition": {}},
    )
    sim = ShopSimulator(world.truth, world.table, world.states, SimulationConfig(sessions=40))
    for policy in policies.values():
        assert sim.run(policy).impressions.sum() > 0
    with pytest.raises(ConfigError, match="unknown policy"):
        build_policies(world, ["oracle"])


SHOP_ARGS = ["--products", "150", "--users", "40", "--seed", "3", "--sessions", "120"]


def test_aa_command_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: `simulate --aa` had never run; it counted the conversion test only and
    gave a Wald interval ([0, 0] at zero rejections)."""
    from shopsense.cli import main

    argv = ["simulate", "--policies", "popularity,als", "--aa", "3", "--resamples", "50"]
    assert main([*argv, *SHOP_ARGS, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["policy"] == "popularity" and body["runs"] == 3  # one policy plays A/A
    rates = body["rejection_rates"]
    assert set(rates) == {"conversion", "ctr", "revenue", "srm"}
    for rate in rates.values():
        low, high = rate["ci95"]
        assert 0 <= rate["rejections"] <= 3 and low <= rate["rate"] <= high and high > 0.2


def test_experiment_command_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from shopsense.cli import main

    path = tmp_path / "exp.toml"
    path.write_text(
        '[[experiments]]\nname = "t"\n'
        '[[experiments.variants]]\nname = "control"\npolicy = "random"\n'
        '[[experiments.variants]]\nname = "treatment"\npolicy = "als"\n'
        "params = { factors = 8, iterations = 3 }\n"
    )
    assert (
        main(["simulate", "--experiment", str(path), "--resamples", "50", *SHOP_ARGS, "--json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)["experiments"][0]
    assert [v["name"] for v in report["variants"]] == ["control", "treatment"]
    assert set(report["conversion_tests"]) == set(report["ctr_tests"]) == {"treatment"}
    assert set(report["revenue_tests"]) == {"treatment"}
    assert isinstance(report["srm_ok"], bool)
    assert main(["simulate", "--experiment", str(path), "--resamples", "50", *SHOP_ARGS]) == 0
    table = capsys.readouterr().out
    assert "treatment vs control, conversion" in table and "SRM p" in table

    path.write_text(path.read_text().replace("factors = 8", "nonsense = 1"))
    assert main(["simulate", "--experiment", str(path), *SHOP_ARGS]) != 0
    assert "bad params for als" in capsys.readouterr().err


def test_ab_detects_a_real_difference(world: SimulationWorld) -> None:
    """Users hashed into a poor and a good arm (on a tiny shop, so CTR carries the
    signal): the CTR test rejects and the split passes the SRM check."""
    truth = world.truth
    utility = np.mean(
        [truth.utilities(u, np.arange(len(world.table)), truth.days) for u in range(40)], axis=0
    )
    order = np.argsort(-utility).astype(np.int64)
    experiment = Experiment(name="ab", variants=[Variant(name="worst"), Variant(name="best")])
    arms = {"worst": BestItemPolicy(order[-60:]), "best": BestItemPolicy(order[:60])}
    sim = ShopSimulator(truth, world.table, world.states, SimulationConfig(sessions=600))
    report = analyze(experiment, sim.run(lambda u: arms[assign_variant(experiment, u)]).per_user())
    assert report.ctr_tests["best"].p_value < 0.01 and report.ctr_tests["best"].difference > 0
    assert report.srm_ok
