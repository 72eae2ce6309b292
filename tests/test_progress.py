"""Progress: invisible without a reporter, bars with an ETA on a terminal, and the long
loops of the library report through it."""

from __future__ import annotations

import io
import logging
import os
import re
import time

import numpy as np
import pytest

from progress_helpers import RecordingReporter
from shopsense import progress
from shopsense.evaluation.runner import evaluate_data
from shopsense.features.interactions import InteractionData


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_reporter_nothing_is_shown_and_items_pass_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = [3, 1, 2]
    assert progress.track(items, "x") is not items  # an iterator over them, not a wrapper
    assert list(progress.track(items, "x")) == items
    with progress.task("y", total=3) as advance:
        advance(3)
    with caplog.at_level(logging.INFO, logger="shopsense.progress"):
        progress.note("a step")
    assert "a step" in caplog.text


def test_a_reporter_sees_tasks_advance_and_close_even_when_a_loop_stops_early() -> None:
    reporter = RecordingReporter()
    with progress.reporting(reporter):
        for i in progress.track(range(10), "loop", unit="epochs"):
            if i == 3:
                break
        with progress.task("rows", unit="rows") as advance:
            advance(500)
            advance(250)
        progress.note("done")
    loop, rows = reporter.tasks
    assert (loop.total, loop.unit, loop.done, loop.closed) == (10, "epochs", 3, True)
    assert (rows.total, rows.done, rows.closed) == (None, 750, True)
    assert reporter.notes == ["done"]
    progress.note("after")  # the reporter was for the block only
    assert reporter.notes == ["done"]


def test_terminal_bars_show_an_eta_when_the_total_is_known() -> None:
    stream = Terminal()
    with progress.reporting(progress.TerminalReporter(stream)):
        for _ in progress.track(range(3), "models", unit="models"):
            time.sleep(0.15)  # past tqdm's redraw interval
        progress.note("a step")
    out = stream.getvalue()
    assert re.search(r"models: +\d+%.*\d/3 \[\d\d:\d\d<\d\d:\d\d", out), out
    assert "- a step\n" in out


def test_bars_show_on_a_terminal_that_reports_no_width() -> None:
    """Regression: on a pseudo-terminal of width 0 (``script``, some CI runners) the bars
    were drawn 0 columns wide, so a long command showed no progress at all."""
    main, side = os.openpty()  # a fresh pty reports 0 x 0
    try:
        with os.fdopen(side, "w", closefd=False) as stream:
            assert os.get_terminal_size(side).columns == 0 and stream.isatty()
            with progress.reporting(progress.TerminalReporter(stream)):
                for _ in progress.track(range(2), "models", unit="models"):
                    time.sleep(0.15)
            stream.flush()
        os.set_blocking(main, False)  # nothing written must fail the test, not hang it
        try:
            out = os.read(main, 65536).decode()
        except BlockingIOError:
            out = ""
    finally:
        os.close(main)
        os.close(side)
    assert re.search(r"models: +\d+%.*\d/2", out), out


def test_terminal_bars_stay_off_a_stream_that_is_not_a_terminal() -> None:
    stream = io.StringIO()
    with progress.reporting(progress.TerminalReporter(stream)):
        list(progress.track(range(3), "models"))
        progress.note("a step")
    assert stream.getvalue() == "- a step\n"


def test_evaluation_reports_each_model_and_its_batches() -> None:
    rng = np.random.default_rng(0)
    sequences = {f"u{u}": [f"i{i}" for i in rng.choice(30, 6, replace=False)] for u in range(40)}
    data = InteractionData.from_sequences(sequences)
    reporter = RecordingReporter()
    with progress.reporting(reporter):
        evaluate_data("toy", data, ["popularity", "item_knn"])
    models = reporter.task("evaluating on toy")
    assert (models.total, models.done, models.unit) == (2, 2, "models")
    batches = reporter.task("ranking test targets")
    assert batches.unit == "batches" and batches.done == batches.total
    assert all(t.closed for t in reporter.tasks)
