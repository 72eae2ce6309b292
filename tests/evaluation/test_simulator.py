"""The closed-loop simulator on a tiny sample shop."""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import shopsense.evaluation.policies as policies_module
from shopsense.domain import Event, EventKind
from shopsense.errors import ConfigError
from shopsense.evaluation.abtest import analyze, assign_variant
from shopsense.evaluation.policies import (
    RandomPolicy,
    Request,
    Shown,
    StackPolicy,
    build_policies,
    greedy,
)
from shopsense.evaluation.simulator import (
    ShopSimulator,
    SimulatedShop,
    SimulationConfig,
    disagreement_shifts,
    explore_shared,
)
from shopsense.experiments import Experiment, Variant
from shopsense.ranking.items import IntArray
from shopsense.ranking.stack import StackConfig
from shopsense.synth import ShopConfig, generate_shop
from shopsense.training import train_stack

TINY = ShopConfig(n_products=150, n_users=40, days=20, seed=3)
FAST = StackConfig(candidates=("popularity", "item_knn"), item_tower=False, min_impressions=100)


@pytest.fixture(scope="module")
def world() -> SimulatedShop:
    return SimulatedShop.from_shop(generate_shop(TINY))


class BestItemPolicy:
    """Always shows the same items, to check that reactions follow the truth."""

    name = "fixed"

    def __init__(self, items: IntArray) -> None:
        self.items = items
        self.seen: list[Event] = []
        self.queries: list[str] = []

    def recommend(self, requests: Sequence[Request]) -> list[Shown]:
        self.queries += [r.query for r in requests if r.query]
        return [greedy(self.items[r.allowed[self.items]][: r.n]) for r in requests]

    def observe(self, events: Sequence[Event]) -> None:
        self.seen += events


def test_events_flow_back_and_runs_repeat(world: SimulatedShop) -> None:
    sim = ShopSimulator(world, SimulationConfig(sessions=150))
    policy = BestItemPolicy(np.arange(20, dtype=np.int64))
    sink: list[Event] = []
    result = sim.run(policy, sink=sink.extend)
    assert len(result.user_ids) == 150
    assert sink and policy.seen == sink
    kinds = {e.kind for e in sink}
    assert {EventKind.IMPRESSION, EventKind.CLICK, EventKind.SEARCH} <= kinds
    assert policy.queries  # shoppers search too, at their hidden rate
    assert sum(e.kind is EventKind.CLICK for e in sink) == result.clicks.sum()
    shown = [e for e in sink if e.kind is EventKind.IMPRESSION]
    assert len(shown) == result.impressions.sum()
    assert all(e.propensity == 1.0 and e.request_id for e in shown)
    again = sim.run(BestItemPolicy(np.arange(20, dtype=np.int64)))
    assert np.array_equal(again.purchases, result.purchases)
    summary = result.summary()
    low, high = summary.conversion_ci95
    assert low <= summary.conversion_rate <= high


def test_shown_items_exclude_history_and_stock_outs(world: SimulatedShop) -> None:
    sim = ShopSimulator(world, SimulationConfig(sessions=60))
    shown: list[tuple[set[int], set[int]]] = []

    class Spy(RandomPolicy):
        def recommend(self, requests: Sequence[Request]) -> list[Shown]:
            lists = super().recommend(requests)
            for r, answer in zip(requests, lists, strict=True):
                shown.append((set(answer.items.tolist()), set(r.state.items)))
            return lists

    sim.run(Spy())
    out_of_stock = set(np.flatnonzero(~world.logged.table.in_stock).tolist())
    assert shown and all(not (items & (history | out_of_stock)) for items, history in shown)


def test_utility_drives_conversion(world: SimulatedShop) -> None:
    """Showing the items the truth likes most converts more than the ones it likes least
    (a check of the simulator's wiring, not a policy: policies never see the truth)."""
    truth = world.truth
    n = len(world.logged.table)
    mean_utility = np.mean([truth.utilities(u, np.arange(n), truth.days) for u in range(40)], 0)
    order = np.argsort(-mean_utility)
    sim = ShopSimulator(world, SimulationConfig(sessions=300, search=False))
    best_run = sim.run(BestItemPolicy(order[:60].astype(np.int64)))
    worst_run = sim.run(BestItemPolicy(order[-60:].astype(np.int64)))
    best, worst = best_run.summary(), worst_run.summary()
    assert best.ctr > 2 * worst.ctr
    # paired on the same visits: the difference is the difference of the two rates
    diff = best_run.paired_difference(worst_run)
    assert diff.sessions == 300
    assert diff.conversion == pytest.approx(best.conversion_rate - worst.conversion_rate)
    low, high = diff.conversion_ci95
    assert low <= diff.conversion <= high
    assert best_run.paired_difference(best_run).conversion_ci95 == (0.0, 0.0)
    other = ShopSimulator(world, SimulationConfig(sessions=300, search=False, seed=9))
    with pytest.raises(ConfigError, match="same visits"):
        best_run.paired_difference(other.run(BestItemPolicy(order[:60].astype(np.int64))))


def test_disagreement_moves_clicks_and_purchases_apart(world: SimulatedShop) -> None:
    click, buy = disagreement_shifts(3000, 1.5, seed=0)
    assert np.allclose(click, -buy) and 0.25 < (click != 0).mean() < 0.42
    assert not disagreement_shifts(10, 0.0, 0)[0].any()
    n = len(world.logged.table)
    clickbait = np.flatnonzero(disagreement_shifts(n, 3.0, 0)[0] > 0).astype(np.int64)
    plain = ShopSimulator(world, SimulationConfig(sessions=300, search=False))
    shifted = ShopSimulator(world, SimulationConfig(sessions=300, search=False, disagreement=3.0))
    policy = BestItemPolicy(clickbait)
    assert shifted.run(policy).summary().ctr > plain.run(policy).summary().ctr


def test_policies_cannot_reach_the_truth() -> None:
    """The simulator's hidden truth lives where no policy imports it."""
    tree = ast.parse(Path(policies_module.__file__).read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {
        m for m in imported if m.startswith(("shopsense.synth", "shopsense.evaluation.sim"))
    }


def test_exploration_is_shared_and_logged_with_propensities(world: SimulatedShop) -> None:
    config = SimulationConfig(sessions=80, search=False)
    explored, events, later = explore_shared(world, 120, config, train_stack)
    shown = [e for e in events if e.kind is EventKind.IMPRESSION]
    assert shown and all(0 < (e.propensity or 0) < 1 for e in shown)
    assert len(explored.logged.events) == len(world.logged.events) + len(events)
    assert later.start_day == config.days  # the evaluated visits come after them
    policies = build_policies(
        explored.logged, ["random", "popularity", "stack"], train=train_stack, config=FAST
    )
    assert isinstance(policies["stack"], StackPolicy)
    assert policies["stack"].stack.ranker is not None  # it learned from the exploration
    sim = ShopSimulator(explored, later)
    for policy in policies.values():
        assert sim.run(policy).impressions.sum() > 0
    with pytest.raises(ConfigError, match="unknown policy"):
        build_policies(world.logged, ["oracle"])
    with pytest.raises(ConfigError, match="needs its trainer"):
        build_policies(world.logged, ["stack"])


def test_ab_routing(world: SimulatedShop) -> None:
    experiment = Experiment(name="t", variants=[Variant(name="a"), Variant(name="b")])
    arms = {"a": RandomPolicy(), "b": BestItemPolicy(np.arange(30, dtype=np.int64))}
    routed = ShopSimulator(world, SimulationConfig(sessions=200)).run(
        lambda user: arms[assign_variant(experiment, user)]
    )
    report = analyze(experiment, routed.per_user(), resamples=100)
    assert sum(v.users for v in report.variants) == len(set(routed.user_ids))


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


def test_ab_detects_a_real_difference(world: SimulatedShop) -> None:
    """Users hashed into a poor and a good arm (on a tiny shop, so CTR carries the
    signal): the CTR test rejects and the split passes the SRM check."""
    truth = world.truth
    n = len(world.logged.table)
    utility = np.mean([truth.utilities(u, np.arange(n), truth.days) for u in range(40)], 0)
    order = np.argsort(-utility).astype(np.int64)
    experiment = Experiment(name="ab", variants=[Variant(name="worst"), Variant(name="best")])
    arms = {"worst": BestItemPolicy(order[-60:]), "best": BestItemPolicy(order[:60])}
    sim = ShopSimulator(world, SimulationConfig(sessions=600, search=False))
    report = analyze(experiment, sim.run(lambda u: arms[assign_variant(experiment, u)]).per_user())
    assert report.ctr_tests["best"].p_value < 0.01 and report.ctr_tests["best"].difference > 0
    assert report.srm_ok
