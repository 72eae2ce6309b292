"""The operator's dashboard: what serves and how well, traffic, searches, A/B tests.

One page: the serving bundle and which of its models answers each scenario; every bundle
with its quality-gate verdict, the models inside it compared on validation NDCG@10, and an
"Activate" button (roll back or forward); events, click-through and conversion per day on
a time axis (:mod:`shopsense.api.charts`: inline SVG, no JavaScript library, no network);
top and zero-result search queries with click-through per query; A/B results counted from
each experiment's start, with the sample-ratio check shown whatever its verdict; the
serving bundle's item-embedding maps (:mod:`shopsense.api.item_map`).

**Who may see it.** The operator only: the API key in ``X-API-Key``, or a browser that
logged in at ``/dashboard/login`` with it (a signed cookie, ``HttpOnly``,
``SameSite=Strict``, for 12 hours); others are sent to the login. Read endpoints may be
public (``SHOPSENSE_PUBLIC_READS``); the dashboard never is.

**Who may activate a bundle.** The server has one key, the admin key; a reader without it
never gets this page. "Activate" is a plain HTML form (it works without JavaScript) posting
to ``POST /dashboard/models/{id}/activate``, a dashboard route that runs what
``POST /admin/models/{id}/activate`` runs. The admin route wants the key in a header, which
a form cannot send and a page must not hold, so this one takes the same proof as the page
plus a CSRF token: the key in ``X-API-Key``, or the operator's cookie together with the
token the page carries in each form, an HMAC of that cookie under the server's secret
(:meth:`~shopsense.api.shoppers.Shoppers.operator_token`). A forged cross-site post has
neither the cookie (``SameSite=Strict``) nor the token; a stolen page's token dies with the
login it was made for. The answer is a redirect back to the page, which then names the
bundle now serving.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopsense.api.analytics import attributed_ctr, daily_stats, search_stats
from shopsense.api.auth import is_operator, key_matches, operator_may_act, state_of
from shopsense.api.bundles import listed, scenario_rows
from shopsense.api.charts import day_bars, day_lines
from shopsense.api.item_map import map_svg, serving_maps
from shopsense.api.lifecycle import BundleLoadError
from shopsense.api.shoppers import ADMIN, ADMIN_MAX_AGE_S
from shopsense.api.storefront import ShopRefusedError, page
from shopsense.errors import ModelError

router = APIRouter(include_in_schema=False)

#: Days the charts, the daily table and the search report cover.
DAYS = 60


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
def dashboard(
    request: Request, activated: Annotated[str | None, Query(max_length=100)] = None
) -> Response:
    if not is_operator(request):
        return RedirectResponse("/dashboard/login", status_code=303)
    serving = state_of(request).models.bundle_id
    notice = f"Now serving {activated}." if activated and activated == serving else None
    return render(request, notice=notice)


@router.post("/dashboard/models/{bundle_id}/activate", response_class=HTMLResponse)
def activate(
    request: Request,
    bundle_id: Annotated[str, Path(min_length=1, max_length=100)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    """Serve a published bundle (roll back or forward); see the module doc for who may."""
    if not is_operator(request):
        raise ShopRefusedError(401, "log in at /dashboard/login first")
    if not operator_may_act(request, csrf):
        raise ShopRefusedError(403, "missing or wrong CSRF token: reload the dashboard")
    try:
        state_of(request).models.activate_id(bundle_id)
    except BundleLoadError as exc:
        return render(request, error=str(exc), status=503)
    except ModelError as exc:  # unknown, or failed its quality gate
        return render(request, error=str(exc), status=404)
    return RedirectResponse(f"/dashboard?activated={quote(bundle_id)}#models", status_code=303)


def render(
    request: Request, notice: str | None = None, error: str | None = None, status: int = 200
) -> Response:
    """The dashboard page (the caller checked who is asking)."""
    state = state_of(request)
    today = datetime.now(UTC).date()
    days = daily_stats(state.store, DAYS, today)
    dates = [date.fromisoformat(d["date"]) for d in days]
    charts = {
        "events": day_bars(dates, [d["events"] for d in days], "Events per day", today),
        "ctr": day_lines(
            dates, {"click-through": [d["ctr"] for d in days]}, "Click-through (clicks / impr.)",
            today,
        ),
        "conversion": day_lines(
            dates, {"conversion": [d["conversion"] for d in days]},
            "Conversion (purchases / views)", today,
        ),
    }  # fmt: skip
    engine = state.models.engine
    maps = serving_maps(engine.models, state.catalog) if engine is not None else []
    experiments = state.experiments.experiments
    bundles = state.models.bundles()
    cookie = request.cookies.get(ADMIN)
    token = (
        state.shoppers.operator_token(cookie) if cookie and state.shoppers.admin_ok(cookie) else ""
    )
    context = {
        "bundles": listed(bundles),
        "bundle_count": len(bundles),
        "jobs": list(reversed(state.models.jobs)),
        "serving": state.models.bundle_id,
        "serving_created": next((b["created_at"] for b in bundles if b["serving"]), None),
        "scenarios": scenario_rows(
            engine.models if engine is not None else None, experiments[0] if experiments else None
        ),
        "charts": charts,
        "maps": [{"map": m, "svg": map_svg(m, state.catalog)} for m in maps],
        "window": DAYS,
        "totals": state.store.events.count_by_kind(),
        "attributed": attributed_ctr(state.store),
        "days": list(reversed(days[-14:])),
        "searches": search_stats(state.store, DAYS, today=today),
        "experiments": state.experiments.results(state.store),
        "operator_token": token,
        "notice": notice,
        "error": error,
    }
    return page(request, "dashboard.html", context, status=status)
