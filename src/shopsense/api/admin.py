"""Operations: health, Prometheus metrics, training, model versions and hot swaps."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response

from shopsense.api.auth import operator_access, require_key, state_of
from shopsense.api.metrics import CONTENT_TYPE
from shopsense.api.routes import json_response
from shopsense.api.schemas import KEYED_ERRORS, HealthOut, TrainOut

router = APIRouter(responses=KEYED_ERRORS)


@router.get("/health", response_model=HealthOut, tags=["ops"])
async def health(request: Request) -> Response:
    """Liveness and what is loaded (always public: load balancers call it)."""
    state = state_of(request)
    return json_response(
        {
            "status": "ok",
            "bundle": state.models.bundle_id,
            "products": len(state.catalog),
            "search": state.search.status,
            "uptime_s": round(time.time() - state.started_at, 1),
            "bundle_error": state.models.load_error,
        }
    )


@router.get("/metrics", response_class=PlainTextResponse, tags=["ops"])
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text format: requests, latency histograms, events, swaps."""
    state = state_of(request)
    metrics = state.metrics
    metrics.set_gauge("model_swaps_total", state.models.swaps)
    metrics.set_gauge("products", len(state.catalog))
    metrics.set_gauge("shoppers_in_memory", len(state.recent))
    metrics.set_gauge("uptime_seconds", round(time.time() - state.started_at, 1))
    metrics.set_gauge("result_cache_hits", state.results.hits)
    metrics.set_gauge("result_cache_misses", state.results.misses)
    return PlainTextResponse(metrics.render(), media_type=CONTENT_TYPE)


@router.post(
    "/admin/train",
    response_model=TrainOut,
    status_code=202,
    dependencies=[Depends(require_key)],
    tags=["admin"],
)
def admin_train(request: Request) -> Response:
    """Retrain in the background; published only if it passes the quality gate."""
    job = state_of(request).models.start_training()
    return json_response({"job": job.as_dict()}, status=202)


@router.get("/admin/models", dependencies=[Depends(require_key)], tags=["admin"])
def admin_models(request: Request) -> Response:
    """Every bundle (newest first) with metrics and gate verdicts; training jobs."""
    return json_response(models_overview(request))


def models_overview(request: Request) -> dict[str, Any]:
    manager = state_of(request).models
    return {
        "serving": manager.bundle_id,
        "swaps": manager.swaps,
        "bundles": manager.bundles(),
        "jobs": [j.as_dict() for j in reversed(manager.jobs)],
    }


@router.post("/admin/reload", dependencies=[Depends(require_key)], tags=["admin"])
def admin_reload(request: Request) -> Response:
    """Swap in the newest published bundle (e.g. one trained by ``shopsense train``)."""
    manager = state_of(request).models
    swapped = manager.reload()
    return json_response({"serving": manager.bundle_id, "swapped": swapped})


@router.post(
    "/admin/models/{bundle_id}/activate", dependencies=[Depends(require_key)], tags=["admin"]
)
def admin_activate(
    request: Request, bundle_id: Annotated[str, Path(min_length=1, max_length=100)]
) -> Response:
    """Serve a given published bundle (roll back or forward), swapped in without downtime."""
    manager = state_of(request).models
    manager.activate_id(bundle_id)
    return json_response({"serving": manager.bundle_id, "swapped": True})


@router.get("/admin/experiments", dependencies=[Depends(require_key)], tags=["admin"])
def admin_experiments(request: Request) -> Response:
    """Live A/B results: per-variant CTR, conversion and revenue, tests, SRM check."""
    state = state_of(request)
    return json_response({"experiments": state.experiments.results(state.store)})


@router.get("/admin/stats", dependencies=[Depends(operator_access)], tags=["admin"])
def admin_stats(request: Request, days: Annotated[int, Query(ge=1, le=3650)] = 30) -> Response:
    """Event volumes, click-through and conversion per day (what the dashboard plots)."""
    from shopsense.api.analytics import daily_stats

    return json_response({"days": daily_stats(state_of(request).store, days)})
