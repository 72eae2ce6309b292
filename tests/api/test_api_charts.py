"""The dashboard's SVG charts: a time axis, labelled y ticks, gaps and the partial day."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from shopsense.api.charts import LEFT, PLOT_W, day_bars, day_lines, nice_ticks, number, percent

DAYS = [date(2026, 11, 1) + timedelta(days=k) for k in range(10)]  # Sun 1 .. Tue 10
TODAY = DAYS[-1]


@pytest.mark.parametrize(
    "top, integer, expected",
    [
        (0.0347, False, [0.0, 0.01, 0.02, 0.03, 0.04]),
        (10, False, [0.0, 2.5, 5.0, 7.5, 10.0]),
        (10, True, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]),
        (3, True, [0.0, 1.0, 2.0, 3.0]),
        (0, True, [0.0, 1.0]),
        (1234, True, [0.0, 500.0, 1000.0, 1500.0]),
    ],
)
def test_nice_ticks(top: float, integer: bool, expected: list[float]) -> None:
    assert nice_ticks(top, integer=integer) == expected


def test_tick_labels() -> None:
    assert [number(v) for v in (0.0, 2.5, 12000.0, 0.125)] == ["0", "2.5", "12,000", "0.125"]
    assert [percent(v) for v in (0.0, 0.025, 0.0125)] == ["0%", "2.5%", "1.25%"]


def x_of(index: int) -> float:
    return LEFT + (index + 0.5) * PLOT_W / len(DAYS)


def test_bars_stand_at_their_dates_and_today_is_marked_partial() -> None:
    values = [5, 0, 0, 7, 0, 0, 0, 0, 0, 2]
    svg = day_bars(DAYS, values, "Events <per> day", partial=TODAY)
    bars = re.findall(
        r'<rect( class="partial")? data-date="([0-9-]+)" data-value="(\d+)" x="([0-9.]+)"', svg
    )
    assert [(d, int(v)) for _, d, v, _ in bars] == [
        ("2026-11-01", 5),
        ("2026-11-04", 7),
        ("2026-11-10", 2),
    ]
    slot = PLOT_W / len(DAYS)
    assert [float(x) for *_, x in bars] == pytest.approx(
        [LEFT + k * slot + 0.5 for k in (0, 3, 9)], abs=0.06
    )
    assert [bool(partial) for partial, *_ in bars] == [False, False, True]
    assert "today (partial)" in svg and "Events &lt;per&gt; day" in svg
    assert re.findall(r'class="ytick"[^>]*>([^<]+)<', svg) == ["0", "2", "4", "6", "8"]
    # ten days: a tick every other day, labelled with the date
    assert re.findall(r'class="xtick" data-date="[0-9-]+"[^>]*>([^<]+)<', svg) == [
        "Nov 1",
        "Nov 3",
        "Nov 5",
        "Nov 7",
        "Nov 9",
    ]


def test_long_windows_tick_on_mondays() -> None:
    days = [date(2026, 10, 2) + timedelta(days=k) for k in range(60)]
    svg = day_bars(days, [1] * 60, "Events per day", partial=days[-1])
    ticks = [date.fromisoformat(d) for d in re.findall(r'class="xtick" data-date="([0-9-]+)"', svg)]
    assert len(ticks) == 9 and all(d.weekday() == 0 for d in ticks)
    assert ticks[0] == date(2026, 10, 5)


def test_a_day_without_a_value_breaks_the_line_and_today_is_hollow() -> None:
    rates = [0.01, 0.02, None, 0.03, 0.02, 0.01, None, 0.04, None, 0.05]
    svg = day_lines(DAYS, {"click-through": rates}, "Click-through", partial=TODAY)
    lines = re.findall(
        r'<polyline class="series0" fill="none" data-from="([0-9-]+)" data-to="([0-9-]+)"'
        r' points="([^"]+)"',
        svg,
    )
    assert [(a, b) for a, b, _ in lines] == [
        ("2026-11-01", "2026-11-02"),
        ("2026-11-04", "2026-11-06"),
    ]
    xs = [float(p.split(",")[0]) for p in lines[1][2].split()]
    assert xs == pytest.approx([x_of(3), x_of(4), x_of(5)], abs=0.06)  # at their dates
    # 8 November stands alone between gaps: a dot; today (10th) is hollow, not joined
    # to the 8th by a dashed segment since the 9th has no value
    assert re.search(r'<circle class="series0" data-date="2026-11-08"', svg)
    assert re.search(r'<circle class="series0 partial" data-date="2026-11-10"', svg)
    assert '<line class="series0 partial"' not in svg
    assert re.findall(r'class="ytick"[^>]*>([^<]+)<', svg) == ["0%", "1%", "2%", "3%", "4%", "5%"]


def test_the_partial_day_is_joined_by_a_dashed_segment() -> None:
    rates = [0.02] * 9 + [0.001]  # today's few hours: not drawn as a fall of the solid line
    svg = day_lines(DAYS, {"conversion": rates}, "Conversion", partial=TODAY)
    (line,) = re.findall(r'data-to="([0-9-]+)"', svg)
    assert line == "2026-11-09"
    joint = re.search(r'<line class="series0 partial" x1="([0-9.]+)"[^>]* x2="([0-9.]+)"', svg)
    assert joint and float(joint.group(1)) == pytest.approx(x_of(8), abs=0.06)
    assert float(joint.group(2)) == pytest.approx(x_of(9), abs=0.06)


def test_no_data_at_all_still_draws_axes() -> None:
    svg = day_lines(DAYS, {"ctr": [None] * 10}, "Click-through")
    assert "polyline" not in str(svg) and "circle" not in str(svg)
    ticks = re.findall(r'class="ytick"[^>]*>([^<]+)<', svg)
    assert ticks == ["0%", "25%", "50%", "75%", "100%"]
