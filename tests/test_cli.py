"""The command line: ingest, stats, errors as one line, --data-dir everywhere."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from shopsense.cli import main

CATALOG = "id,title,category,price\nP1,Mug,Home > Kitchen,5\nP2,Cup,Home > Kitchen,4\n"
EVENTS = (
    "event_id,user_id,kind,item_id,query,timestamp\n"
    "E1,U1,view,P1,,2026-01-01T10:00:00Z\n"
    "E2,U1,search,,mug,2026-01-01T10:01:00Z\n"
    "E3,U2,purchase,P2,,2026-01-01T10:02:00Z\n"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def files(tmp_path: Path) -> tuple[Path, Path]:
    catalog, events = tmp_path / "catalog.csv", tmp_path / "events.csv"
    catalog.write_text(CATALOG)
    events.write_text(EVENTS)
    return catalog, events


def test_ingest_then_stats_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog, events = files(tmp_path)
    data = str(tmp_path / "data")
    assert run(capsys, "--data-dir", data, "ingest", "catalog", str(catalog))[0] == 0
    code, out, _ = run(capsys, "ingest", "events", str(events), "--data-dir", data)
    assert code == 0
    assert "3 rows read, 3 stored" in out
    code, out, _ = run(capsys, "stats", "--json", "--data-dir", data)
    stats = json.loads(out)
    assert stats == {
        "products": 2,
        "users": 2,
        "events": 3,
        "events_by_kind": {
            "impression": 0,
            "view": 1,
            "click": 0,
            "add_to_cart": 0,
            "purchase": 1,
            "search": 1,
        },
    }
    run(capsys, "ingest", "events", str(events), "--data-dir", data)
    assert json.loads(run(capsys, "stats", "--json", "--data-dir", data)[1]) == stats


def test_data_dir_from_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, _ = files(tmp_path)
    monkeypatch.setenv("SHOPSENSE_DATA_DIR", str(tmp_path / "env-data"))
    assert run(capsys, "ingest", "catalog", str(catalog))[0] == 0
    assert (tmp_path / "env-data" / "shopsense.db").exists()


def test_a_bad_setting_in_the_environment_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPSENSE_SEARCH_ENCODER", "bert")
    assert main(["--data-dir", str(tmp_path), "stats"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bad setting SHOPSENSE_SEARCH_ENCODER:")
    assert "minilm" in err and "Traceback" not in err


def test_bad_row_is_one_line_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog, events = files(tmp_path)
    events.write_text(EVENTS.replace("E3,U2,purchase,P2", "E3,U2,purchase,P9"))
    data = str(tmp_path / "data")
    run(capsys, "--data-dir", data, "ingest", "catalog", str(catalog))
    code, out, err = run(capsys, "--data-dir", data, "ingest", "events", str(events))
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("error: events.csv: row 3, field 'item_id': unknown product id 'P9'")
    assert "Traceback" not in err
    assert json.loads(run(capsys, "--data-dir", data, "stats", "--json")[1])["events"] == 0
    code, out, _ = run(
        capsys, "--data-dir", data, "ingest", "events", str(events), "--skip-invalid", "--json"
    )
    report = json.loads(out)
    assert (report["stored"], report["skipped"]) == (2, 1)
    assert "row 3" in report["failures"][0]


def test_map_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.csv"
    path.write_text("sku,name\nA,Mug\n")
    data = str(tmp_path / "data")
    code, _, err = run(
        capsys,
        "--data-dir",
        data,
        "ingest",
        "catalog",
        str(path),
        "--map",
        "sku=id",
        "--map",
        "name=title",
    )
    assert code == 0, err
    code, _, err = run(capsys, "--data-dir", data, "ingest", "catalog", str(path), "--map", "sku")
    assert code == 2
    assert "--map expects SOURCE=TARGET" in err


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "--data-dir", str(tmp_path), "ingest", "events", str(tmp_path / "nope.csv")
    )
    assert code == 2
    assert "nope.csv" in err
    assert "Traceback" not in err


def test_delete_user(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog, events = files(tmp_path)
    data = str(tmp_path / "data")
    run(capsys, "--data-dir", data, "ingest", "catalog", str(catalog))
    run(capsys, "--data-dir", data, "ingest", "events", str(events))
    _, out, _ = run(capsys, "--data-dir", data, "delete-user", "U1")
    assert "2 events" in out
    stats = json.loads(run(capsys, "--data-dir", data, "stats", "--json")[1])
    assert (stats["users"], stats["events"]) == (1, 1)


def test_deleting_an_unknown_shopper_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog, events = files(tmp_path)
    data = str(tmp_path / "data")
    run(capsys, "--data-dir", data, "ingest", "catalog", str(catalog))
    run(capsys, "--data-dir", data, "ingest", "events", str(events))
    code, out, err = run(capsys, "--data-dir", data, "delete-user", "U9")
    assert (code, out) == (2, "")
    assert err.startswith("error: no shopper 'U9'") and err.count("\n") == 1
    assert "nothing was deleted" in err
    assert run(capsys, "--data-dir", data, "delete-user", "U1")[0] == 0
    assert run(capsys, "--data-dir", data, "delete-user", "U1")[0] == 2  # gone already


def sequences_file(tmp_path: Path) -> Path:
    """A tiny s3rec file: one line per shopper, the items in order."""
    path = tmp_path / "Toy.txt"
    path.write_text("".join(f"{u} {u % 5 + 1} {u % 7 + 1} {u % 3 + 8} 12\n" for u in range(1, 30)))
    return path


def test_ingest_dataset_json_is_one_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sequences_file(tmp_path)
    argv = ("--data-dir", str(tmp_path / "data"), "ingest", "dataset", "s3rec", str(path), "--json")
    code, out, _ = run(capsys, *argv)
    assert code == 0
    body = json.loads(out)  # one document, or json.loads fails on the second
    assert body["format"] == "s3rec"
    assert [r["source"] for r in body["reports"]] == ["Toy products", "Toy events"]
    assert body["reports"][1]["stored"] == 29 * 4


def test_quiet_silences_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(sequences_file(tmp_path))
    argv = ("evaluate", "--format", "s3rec", "--path", path, "--models", "popularity", "--json")
    code, out, err = run(capsys, *argv)
    assert code == 0 and "- evaluating popularity" in err
    code, quiet_out, quiet_err = run(capsys, *argv, "--quiet")
    assert (code, quiet_err) == (0, "")
    assert json.loads(quiet_out).keys() == json.loads(out).keys()  # the same answer


def test_report_without_matplotlib_fails_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shopsense.evaluation.runner as runner

    def work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the evaluation started")

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    monkeypatch.setattr(runner, "run_evaluation", work)
    report = tmp_path / "report"
    path = str(sequences_file(tmp_path))
    code, out, err = run(
        capsys, "evaluate", "--format", "s3rec", "--path", path, "--report", str(report)
    )
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: --report needs matplotlib") and "shopsense[report]" in err
    assert not report.exists()


def test_report_without_scikit_learn_fails_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's t-SNE maps need scikit-learn: said at once, not after the training."""
    import shopsense.evaluation.runner as runner

    def work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the evaluation started")

    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setattr(runner, "run_evaluation", work)
    path = str(sequences_file(tmp_path))
    code, out, err = run(
        capsys, "evaluate", "--format", "s3rec", "--path", path, "--report", str(tmp_path / "r")
    )
    assert (code, out) == (2, "")
    assert err.startswith("error: --report needs scikit-learn") and "shopsense[report]" in err


def test_simulate_refuses_a_plot_it_would_not_draw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shopsense.synth as synth

    def work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the simulation started")

    monkeypatch.setattr(synth, "generate_shop", work)
    experiment = tmp_path / "exp.toml"
    experiment.write_text('[[experiments]]\nname = "t"\n')
    png = str(tmp_path / "p.png")
    for extra in (["--experiment", str(experiment)], ["--aa", "3"]):
        code, out, err = run(capsys, "simulate", *extra, "--plot", png)
        assert (code, out) == (2, "")
        assert err.startswith(
            f"error: --plot draws the comparison of --policies; it has no chart for {extra[0]}"
        )
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run(capsys, "simulate", "--plot", png)
    assert code == 2 and err.startswith("error: --plot needs matplotlib")


def test_serve_on_a_taken_port_is_one_line_and_announces_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("uvicorn")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ("--data-dir", str(tmp_path), "serve", "--port", str(port), "--no-search")
        code, out, err = run(capsys, *argv)
        assert (code, out) == (2, "")
        assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
        assert err.count("\n") == 1 and "choose another --port" in err
        demo = ("--data-dir", str(tmp_path / "demo"), "demo", "--port", str(port))
        code, out, err = run(capsys, *demo)  # refused before its minutes of work
        assert (code, out) == (2, "") and "cannot listen" in err
        assert not (tmp_path / "demo").exists()
