"""Smoke runs of the conversion benchmarks on a tiny shop, so the scripts do not rot.

The figures in BENCHMARKS.md come from the full-size runs; these only check that each script
runs end to end and writes the results its documentation promises.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmark_helpers import BENCHMARKS, free_port, run_benchmark
from shopsense.config import Settings

TINY = ("--products", "150", "--users", "60")


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``script`` on the tiny shop."""
    return run_benchmark(script, *TINY, *args)


@pytest.mark.slow
def test_offpolicy_smoke(tmp_path: Path) -> None:
    out = tmp_path / "offpolicy.json"
    run("offpolicy.py", "--log-sessions", "300", "--eval-sessions", "300", "--out", str(out))
    body = json.loads(out.read_text())
    assert set(body["policies"]) == {
        "popularity", "als", "stack_click", "stack_conversion", "stack_explore_10pct"
    }  # fmt: skip
    for row in body["policies"].values():
        assert set(row["estimates"]["click"]) == {"ips", "snips", "dr"}
        assert row["on_policy"]["click"]["value"] >= 0


@pytest.mark.slow
def test_simulate_policies_smoke(tmp_path: Path) -> None:
    plot = tmp_path / "sim.png"
    done = run(
        "simulate_policies.py",
        *("--sessions", "150", "--explore-sessions", "150", "--disagreement", "1.0"),
        *("--policies", "random,popularity,stack", "--plot", str(plot)),
    )
    assert "stack lift over popularity" in done.stdout
    assert set(json.loads(plot.with_suffix(".json").read_text())["policies"]) == {
        "random", "popularity", "stack"
    }  # fmt: skip


@pytest.mark.slow
def test_ranker_auc_smoke(tmp_path: Path) -> None:
    out = tmp_path / "ranker.json"
    done = run("ranker_auc.py", "--explore-sessions", "200", "--out", str(out))
    assert "Ranker on held-out shoppers' impressions" in done.stdout
    report = json.loads(out.read_text())["report"]
    assert {"ranker", "logistic", "item_rate"} <= set(report["ranker"]["tasks"]["click"])


@pytest.mark.slow
def test_serve_load_freshness_smoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shop = str(tmp_path / "shop")
    done = run("serve_load.py", "--only", "fresh", "--data-dir", shop, "--port", free_port())
    rows = [line for line in done.stdout.splitlines() if line.startswith("| freshness:")]
    assert len(rows) == 4
    assert all("| 0 not reflected |" in line for line in rows)
    # Regression: each run read its shoppers from the database as the last run left it, so
    # it also asked for the shoppers that run invented, unknown again once the shop was
    # restored (answered by trending: a cheaper, inflated load). They come from the prepared
    # shop now.
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import serve_load

    settings = Settings(data_dir=tmp_path / "shop")
    assert any(u.startswith("fresh-") for u in serve_load.Workload(settings).users)
    serve_load.restore_shop(settings)
    assert not any(u.startswith("fresh-") for u in serve_load.Workload(settings).users)
    # The per-list CPU benchmark runs on the shop serve_load prepared.
    out = tmp_path / "cpu.json"
    run_benchmark("serve_cpu.py", "--data-dir", str(tmp_path / "shop"), "--requests", "20",
                  "--runs", "1", "--out", str(out))  # fmt: skip
    result = json.loads(out.read_text())
    assert result["cpu_ms_per_list_median"] > 0 and sum(result["strategies"].values()) == 20


@pytest.mark.slow
def test_ranker_rows_smoke(tmp_path: Path) -> None:
    out = tmp_path / "ranker_rows.json"
    run("ranker_rows.py", "--max-rows", "all,300", "--out", str(out))
    runs = json.loads(out.read_text())["runs"]
    assert [r["max_rows"] for r in runs] == [None, 300]
    every, capped = (r["final_fit_rows"] for r in runs)
    assert every["learned_from"] == every["logged"] > 300
    assert capped["logged"] == every["logged"] and capped["learned_from"] < every["logged"]
    assert {"ranker", "logistic", "item_rate"} <= set(runs[1]["held_out"]["click"])
