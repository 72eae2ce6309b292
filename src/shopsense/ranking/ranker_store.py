"""The ranker on disk: its settings and choices as JSON, its arrays and network weights as
npz (no pickle). Bundles written before the linear click head stored ``residual`` as a bool
and still load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from shopsense.errors import ModelError
from shopsense.ranking.ranker_net import RESIDUAL_FULL, RESIDUAL_NONE, build_net

#: A ``MultiTaskRanker``: this module reads and sets its fields by name, and does not import
#: it (the ranker imports this module).
R = TypeVar("R")


def save_ranker(ranker: Any, directory: Path) -> None:
    """Write ``ranker`` to ``directory``: ``model.json`` and ``state.npz``."""
    if not ranker.fitted:
        raise ModelError("the ranker is not fitted; nothing to save")
    directory.mkdir(parents=True, exist_ok=True)
    params = ranker.get_params()
    params["tasks"] = list(ranker.tasks)
    params["prior_features"] = list(ranker.prior_features)
    meta = {
        "model": "ranker",
        "params": params,
        "feature_names": ranker.feature_names_,
        "n_items": ranker.n_items_,
        "updates": ranker.updates_,
        "residual": ranker.residual_,
        "selection": ranker.selection_,
        "item_l2": ranker.item_l2_,
    }
    (directory / "model.json").write_text(json.dumps(meta))
    arrays: dict[str, npt.NDArray[Any]] = {
        "feature_mean_": ranker.feature_mean_,
        "feature_scale_": ranker.feature_scale_,
        "feature_low_": ranker.feature_low_,
        "feature_high_": ranker.feature_high_,
        "validation_curve_": ranker.validation_curve_,
    }
    arrays.update({f"net.{n}": v.detach().numpy() for n, v in ranker.net_.state_dict().items()})
    np.savez(directory / "state.npz", **arrays)  # type: ignore[arg-type]


def load_ranker(cls: type[R], directory: Path) -> R:
    """The ranker :func:`save_ranker` wrote to ``directory``."""
    import torch

    try:
        meta = json.loads((directory / "model.json").read_text())
        if meta.get("model") != "ranker":
            raise ModelError(f"{directory} holds a {meta.get('model')!r} model, not a ranker")
        params = dict(meta["params"])
        params["tasks"] = tuple(params["tasks"])
        params["prior_features"] = tuple(params.get("prior_features", ()))
        model: Any = cls(**params)
        model._check()
        with np.load(directory / "state.npz", allow_pickle=False) as arrays:
            state = {k: arrays[k] for k in arrays.files}
        model.feature_mean_ = state.pop("feature_mean_")
        model.feature_scale_ = state.pop("feature_scale_")
        model.feature_low_ = state.pop("feature_low_")
        model.feature_high_ = state.pop("feature_high_")
        model.validation_curve_ = state.pop("validation_curve_")
        model.feature_names_ = list(meta["feature_names"])
        model.n_items_ = int(meta["n_items"])
        model.updates_ = int(meta.get("updates", 0))
        # bundles before the linear level stored a bool: true meant wide and deep
        saved = meta.get("residual", True)
        if isinstance(saved, bool):
            saved = RESIDUAL_FULL if saved else RESIDUAL_NONE
        model.residual_ = int(saved)
        model.selection_ = dict(meta.get("selection", {}))
        model.item_l2_ = float(meta.get("item_l2", 8.0))
        model._locate()
        weights = {n[4:]: torch.from_numpy(v) for n, v in state.items()}
        knots = weights["knots"].numpy()
        net = build_net(len(model.feature_names_), model.n_items_, knots, model, model.residual_)
        net.load_state_dict(weights)
    except (
        OSError,
        KeyError,
        ValueError,
        TypeError,
        RuntimeError,
        json.JSONDecodeError,
    ) as exc:
        raise ModelError(f"cannot load the ranker from {directory}: {exc}") from exc
    net.eval()
    model.net_ = net
    loaded: R = model
    return loaded
