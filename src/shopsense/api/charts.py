"""Server-side SVG charts over calendar days: no JavaScript, no library, no network.

The x axis is time: every day of the window has its slot at its date, so a day without
data is a gap (a rate that is undefined) or an empty bar (a count of 0) at its place, never
squeezed out; tick marks fall on Mondays (or every n days on long windows) with the date.
The y axis starts at 0 with four or five round, labelled ticks and grid lines. The partial
day (today, still running) is drawn hollow and dashed and labelled "today (partial)", so a
day that is not over does not read as a drop.

Example::

    >>> from datetime import date
    >>> svg = day_bars([date(2026, 11, 29), date(2026, 11, 30)], [12, 3], "Events per day",
    ...                partial=date(2026, 11, 30))
    >>> 'class="partial"' in svg and 'data-date="2026-11-29"' in svg
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 210
LEFT, RIGHT, TOP, BOTTOM = 56, 14, 30, 34
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
#: Day steps between labelled x ticks, the first that leaves at most ``MAX_X_TICKS``.
X_STEPS = (1, 2, 7, 14, 28, 56, 91, 182, 364)
MAX_X_TICKS = 9
#: ``(below, use)``: a raw step whose leading digits are below ``below`` becomes ``use``.
NICE_EDGES = ((1.5, 1.0), (2.25, 2.0), (3.5, 2.5), (7.5, 5.0))


def nice_ticks(top: float, count: int = 4, integer: bool = False) -> list[float]:
    """0 and round steps (1, 2, 2.5, 5 x 10^k) up to at least ``top``, about ``count`` steps.

    >>> nice_ticks(0.0347)
    [0.0, 0.01, 0.02, 0.03, 0.04]
    >>> nice_ticks(3, integer=True)
    [0.0, 1.0, 2.0, 3.0]
    """
    top = top if top > 0 else 1.0
    raw = top / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    # the round multiple nearest to raw (Heckbert's "nice numbers"; 2.5 only off integers)
    edges = ((1.5, 1.0), (3.0, 2.0), (7.0, 5.0)) if integer else NICE_EDGES
    fraction = raw / magnitude
    step = magnitude * next((m for edge, m in edges if fraction < edge), 10.0)
    if integer:
        step = max(step, 1.0)
    n = math.ceil(top / step - 1e-9)
    return [round(k * step, 12) for k in range(n + 1)]


def number(value: float) -> str:
    """``12,000``, ``2.5``, ``0.125``: at most three decimals, no trailing zeros."""
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def percent(value: float) -> str:
    return number(100 * value) + "%"


def day_bars(
    days: Sequence[date],
    values: Sequence[float],
    title: str,
    partial: date | None = None,
    label: Callable[[float], str] = number,
) -> Markup:
    """A bar per day at its date (``values`` aligned with ``days``)."""
    ticks = nice_ticks(max(values, default=0.0), integer=True)
    y = _scale(ticks[-1])
    slot = PLOT_W / max(len(days), 1)
    bars = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        if value <= 0:
            continue
        top = y(value)
        kind = ' class="partial"' if day == partial else ""
        bars.append(
            f'<rect{kind} data-date="{day.isoformat()}" data-value="{value:g}"'
            f' x="{LEFT + i * slot + 0.5:.1f}" y="{top:.1f}"'
            f' width="{max(slot - 1.0, 0.5):.1f}" height="{TOP + PLOT_H - top:.1f}">'
            f"<title>{_day_name(day, partial)}: {escape(label(value))}</title></rect>"
        )
    return _frame(title, days, ticks, label, "".join(bars), partial)


def day_lines(
    days: Sequence[date],
    series: Mapping[str, Sequence[float | None]],
    title: str,
    partial: date | None = None,
    label: Callable[[float], str] = percent,
) -> Markup:
    """A line per series through each day's value at its date; ``None`` (no value that
    day) breaks the line. The partial day's point is hollow, joined by a dashed segment."""
    known = [v for values in series.values() for v in values if v is not None]
    ticks = nice_ticks(max(known, default=0.0))
    y = _scale(ticks[-1])
    slot = PLOT_W / max(len(days), 1)
    parts = []
    for k, (name, values) in enumerate(series.items()):
        points = [
            None if v is None else (LEFT + (i + 0.5) * slot, y(v), day, v)
            for i, (day, v) in enumerate(zip(days, values, strict=True))
        ]
        run: list[tuple[float, float, date, float]] = []
        for point in [*points, None]:
            if point is not None and point[2] != partial:
                run.append(point)
                continue
            parts.append(_run(run, k, name, label, partial))
            if point is not None:  # the partial day: hollow, joined by a dashed segment
                parts.append(_partial_point(run[-1] if run else None, point, k, name, label))
            run = []
        if len(series) > 1:
            parts.append(
                f'<text class="legend series{k}" x="{WIDTH - RIGHT}" y="{TOP - 6 - 13 * k}"'
                f' text-anchor="end">{escape(name)}</text>'
            )
    return _frame(title, days, ticks, label, "".join(parts), partial)


def _run(
    run: list[tuple[float, float, date, float]],
    k: int,
    name: str,
    label: Callable[[float], str],
    partial: date | None,
) -> str:
    if not run:
        return ""
    tip = f"<title>{escape(name)}</title>"
    if len(run) == 1:  # a day between gaps: a dot (a one-point line is invisible)
        x, y, day, value = run[0]
        return (
            f'<circle class="series{k}" data-date="{day.isoformat()}" cx="{x:.1f}" cy="{y:.1f}"'
            f' r="2.5"><title>{_day_name(day, partial)}: {escape(label(value))}</title></circle>'
        )
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in run)
    first, last = run[0][2].isoformat(), run[-1][2].isoformat()
    return (
        f'<polyline class="series{k}" fill="none" data-from="{first}" data-to="{last}"'
        f' points="{points}">{tip}</polyline>'
    )


def _partial_point(
    before: tuple[float, float, date, float] | None,
    point: tuple[float, float, date, float],
    k: int,
    name: str,
    label: Callable[[float], str],
) -> str:
    x, y, day, value = point
    joint = ""
    if before is not None:
        joint = (
            f'<line class="series{k} partial" x1="{before[0]:.1f}" y1="{before[1]:.1f}"'
            f' x2="{x:.1f}" y2="{y:.1f}"/>'
        )
    return joint + (
        f'<circle class="series{k} partial" data-date="{day.isoformat()}" cx="{x:.1f}"'
        f' cy="{y:.1f}" r="3.5"><title>{escape(name)}, {_day_name(day, day)}:'
        f" {escape(label(value))}</title></circle>"
    )


def _scale(top: float) -> Callable[[float], float]:
    return lambda value: TOP + PLOT_H - PLOT_H * value / top


def _day_name(day: date, partial: date | None) -> str:
    return day.isoformat() + (" (today, partial)" if day == partial else "")


def _frame(
    title: str,
    days: Sequence[date],
    ticks: Sequence[float],
    label: Callable[[float], str],
    body: str,
    partial: date | None,
) -> Markup:
    y = _scale(ticks[-1])
    axis = []
    for value in ticks:
        at = y(value)
        axis.append(
            f'<line class="grid" x1="{LEFT}" y1="{at:.1f}" x2="{WIDTH - RIGHT}" y2="{at:.1f}"/>'
            f'<text class="ytick" x="{LEFT - 6}" y="{at + 4:.1f}" text-anchor="end">'
            f"{escape(label(value))}</text>"
        )
    slot = PLOT_W / max(len(days), 1)
    step = next((s for s in X_STEPS if len(days) / s <= MAX_X_TICKS), X_STEPS[-1])
    base = TOP + PLOT_H
    for i, day in enumerate(days):
        if (day.toordinal() - 1) % step:  # ordinal 1 is a Monday
            continue
        x = LEFT + (i + 0.5) * slot
        axis.append(
            f'<line class="tick" x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}"/>'
            f'<text class="xtick" data-date="{day.isoformat()}" x="{x:.1f}" y="{base + 16}"'
            f' text-anchor="middle">{day:%b} {day.day}</text>'
        )
    if partial is not None and partial in days:
        x = LEFT + (days.index(partial) + 0.5) * slot
        axis.append(
            f'<text class="partial-label" x="{x:.1f}" y="{base + 30}" text-anchor="end">'
            "today (partial)</text>"
        )
    span = f"{days[0].isoformat()} to {days[-1].isoformat()}" if days else "no days"
    return Markup(
        f'<svg class="chart" role="img" aria-label="{escape(title)}, {span}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">'
        f"<title>{escape(title)}, {span}</title>"
        f'<text class="chart-title" x="{LEFT}" y="16">{escape(title)}</text>'
        f"{''.join(axis)}"
        f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>'
        f"{body}</svg>"
    )
