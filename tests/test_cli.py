"""The command line: ingest, stats, errors as one line, --data-dir everywhere."""

from __future__ import annotations

import json
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
