"""The operator's dashboard: model versions and metrics, event volumes, CTR and conversion.

Charts are inline SVG drawn here (no JavaScript library, no network), from the same data
``GET /admin/stats`` and ``GET /admin/models`` return.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from shopsense.api.analytics import attributed_ctr, daily_stats
from shopsense.api.auth import read_access, state_of
from shopsense.api.storefront import page

router = APIRouter(include_in_schema=False)

WIDTH, HEIGHT, PAD = 640, 180, 30


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str) -> Markup:
    """An SVG bar chart; ``labels`` under the first and last bar."""
    top = max(values, default=0.0) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(values), 1)
    bars = []
    for i, value in enumerate(values):
        h = (HEIGHT - 2 * PAD) * value / top
        x, y = PAD + i * step, HEIGHT - PAD - h
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}">'
            f"<title>{escape(labels[i])}: {value:g}</title></rect>"
        )
    return _frame(title, "".join(bars), labels, f"{top:g}")


def line_chart(labels: Sequence[str], series: dict[str, Sequence[float]], title: str) -> Markup:
    """An SVG line chart of one or more series sharing the y axis."""
    top = max((v for values in series.values() for v in values), default=0.0) or 1.0
    n = max((len(v) for v in series.values()), default=0)
    step = (WIDTH - 2 * PAD) / max(n - 1, 1)
    lines = []
    for k, (name, values) in enumerate(series.items()):
        points = " ".join(
            f"{PAD + i * step:.1f},{HEIGHT - PAD - (HEIGHT - 2 * PAD) * v / top:.1f}"
            for i, v in enumerate(values)
        )
        lines.append(
            f'<polyline class="series{k}" fill="none" points="{points}">'
            f"<title>{escape(name)}</title></polyline>"
            f'<text class="legend series{k}" x="{WIDTH - PAD - 90}" y="{PAD + 14 * k}">'
            f"{escape(name)}</text>"
        )
    return _frame(title, "".join(lines), labels, f"{top:.3g}")


def _frame(title: str, body: str, labels: Sequence[str], top: str) -> Markup:
    first = escape(labels[0]) if labels else ""
    last = escape(labels[-1]) if labels else ""
    return Markup(
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}"><title>{escape(title)}</title>'
        f'<text x="{PAD}" y="14">{escape(title)} (max {top})</text>{body}'
        f'<text x="{PAD}" y="{HEIGHT - 8}">{first}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end">{last}</text></svg>'
    )


@router.get("/dashboard", response_class=HTMLResponse, dependencies=[Depends(read_access)])
def dashboard(request: Request) -> Response:
    state = state_of(request)
    days = daily_stats(state.store, days=60)
    labels = [d["date"] for d in days]
    charts = {
        "events": bar_chart(labels, [d["events"] for d in days], "Events per day"),
        "ctr": line_chart(
            labels, {"click-through": [d["ctr"] for d in days]}, "Click-through (clicks/impr.)"
        ),
        "conversion": line_chart(
            labels,
            {"conversion": [d["conversion"] for d in days]},
            "Conversion (purchases/views)",
        ),
    }
    context = {
        "bundles": state.models.bundles(),
        "jobs": list(reversed(state.models.jobs)),
        "serving": state.models.bundle_id,
        "charts": charts,
        "totals": state.store.events.count_by_kind(),
        "attributed": attributed_ctr(state.store),
        "days": days[-14:],
        "experiments": state.experiments.results(state.store),
    }
    return page(request, "dashboard.html", context)
