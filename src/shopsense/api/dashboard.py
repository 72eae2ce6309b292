"""The operator's dashboard: model versions and metrics, event volumes, CTR and conversion.

Charts are inline SVG drawn here (no JavaScript library, no network), from the same data
``GET /admin/stats`` and ``GET /admin/models`` return. Only for the operator: the API key
in ``X-API-Key``, or a browser that logged in at ``/dashboard/login`` with it (a signed
cookie, ``HttpOnly``, ``SameSite=Strict``, for 12 hours); others are sent to the login.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from shopsense.api.analytics import attributed_ctr, daily_stats
from shopsense.api.auth import is_operator, key_matches, state_of
from shopsense.api.shoppers import ADMIN, ADMIN_MAX_AGE_S
from shopsense.api.storefront import ShopRefusedError, page

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


@router.get("/dashboard/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return page(request, "login.html", {"wrong": False})


@router.post("/dashboard/login", response_class=HTMLResponse)
def login(request: Request, key: Annotated[str, Form(max_length=500)] = "") -> Response:
    """The API key in a form; a signed operator cookie back. Attempts count against the
    client's storefront write limit (no guessing at speed)."""
    state = state_of(request)
    client = request.client.host if request.client else "unknown"
    wait = state.shoppers.retry_after(client)
    if wait is not None:
        raise ShopRefusedError(429, f"too many attempts; retry in {wait} s", wait)
    if not key_matches(request, key):
        return page(request, "login.html", {"wrong": True}, status=401)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        ADMIN, state.shoppers.sign_admin(), max_age=ADMIN_MAX_AGE_S, httponly=True,
        samesite="strict",
    )  # fmt: skip
    return response


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request) -> Response:
    if not is_operator(request):
        return RedirectResponse("/dashboard/login", status_code=303)
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
