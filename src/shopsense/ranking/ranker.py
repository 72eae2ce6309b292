"""Multi-task click + purchase re-ranker (ESMM, with a shared-bottom or MMoE bottom).

It scores ``(candidate, shopper)`` feature rows (built by :mod:`shopsense.ranking.features`)
and learns from logged impressions with two labels, *clicked* and *purchased*:

- ``mode="esmm"`` (Ma et al., SIGIR 2018): ``p(click)`` and ``p(purchase | click)`` heads,
  trained over **all** impressions through ``p(click) * p(purchase | click) = p(click and
  purchase)``, so the conversion head is not trained only on the clicked (biased) sample.
- ``mode="single"``: the single-task baseline (ESMM's BASE): one network for ``p(click)`` on
  all impressions and a separate one for ``p(purchase | click)`` on the clicked ones only.
- ``mode="click"``: a click-only model; its ``p(click)`` is also its conversion score.

``bottom="shared"`` shares one MLP between the heads; ``bottom="mmoe"`` (Ma et al., KDD
2018) mixes ``experts`` MLPs with one softmax gate per head. Position is debiased the
PAL / "position as a feature" way: during training a learned per-position logit is added
to the click logit, at serving it is left out (every candidate is scored as if at the top).

Example::

    >>> ranker = MultiTaskRanker(bottom="mmoe").fit(x, positions, click, purchase)  # doctest: +SKIP
    >>> scores = ranker.predict(x_candidates)    # RankerScores: ctr, cvr, ctcvr, each (n,)
    >>> order = ranker.rank(x_candidates, objective="conversions")  # (n,) best first
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt

from shopsense.errors import ModelError

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
Objective = Literal["clicks", "conversions", "revenue"]
MODES = ("esmm", "single", "click")
BOTTOMS = ("shared", "mmoe")


@dataclasses.dataclass(frozen=True)
class RankerScores:
    """Predictions for ``n`` rows, each ``(n,)``: ``ctr`` = p(click), ``cvr`` = p(purchase |
    click), ``ctcvr`` = p(click and purchase) = ``ctr * cvr``."""

    ctr: FloatArray
    cvr: FloatArray
    ctcvr: FloatArray


def _net(n_features: int, hidden: int, bottom: str, experts: int, n_positions: int) -> Any:
    """Build the torch module (lazily: torch is the ``ml`` extra)."""
    import torch
    from torch import Tensor, nn

    def mlp(width_in: int) -> nn.Module:
        return nn.Sequential(
            nn.Linear(width_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )

    def tower() -> nn.Module:
        return nn.Sequential(nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Linear(hidden // 2, 1))

    class MultiTaskNet(nn.Module):
        """``forward(x (b, d), positions (b,) or None) -> (click logit, cvr logit)``, each (b,)."""

        def __init__(self) -> None:
            super().__init__()
            self.bottom = bottom
            if bottom == "mmoe":
                self.experts = nn.ModuleList(mlp(n_features) for _ in range(experts))
                self.gates = nn.ModuleList(nn.Linear(n_features, experts) for _ in range(2))
            else:
                self.shared = mlp(n_features)
            self.ctr_tower = tower()
            self.cvr_tower = tower()
            self.position_logit = nn.Embedding(n_positions, 1)
            nn.init.zeros_(self.position_logit.weight)

        def forward(self, x: Tensor, positions: Tensor | None) -> tuple[Tensor, Tensor]:
            if self.bottom == "mmoe":
                stacked = torch.stack([e(x) for e in self.experts], dim=1)  # (b, E, hidden)
                mixed = [
                    (torch.softmax(g(x), dim=-1).unsqueeze(-1) * stacked).sum(dim=1)
                    for g in self.gates
                ]
                ctr_in, cvr_in = mixed
            else:
                ctr_in = cvr_in = self.shared(x)
            ctr = self.ctr_tower(ctr_in).squeeze(-1)
            if positions is not None:
                ctr = ctr + self.position_logit(positions.clamp(0, n_positions - 1)).squeeze(-1)
            return ctr, self.cvr_tower(cvr_in).squeeze(-1)

    return MultiTaskNet()


@dataclasses.dataclass(eq=False)
class MultiTaskRanker:
    """ESMM-style click + purchase ranker over feature rows (see the module docstring)."""

    mode: str = "esmm"
    bottom: str = "shared"
    hidden: int = 64
    experts: int = 4
    #: Positions ``>= n_positions - 1`` share the last position's learned bias.
    n_positions: int = 20
    epochs: int = 6
    batch_size: int = 1024
    learning_rate: float = 2e-3
    weight_decay: float = 1e-5
    random_state: int = 42
    num_threads: int = 1

    feature_mean_: FloatArray = dataclasses.field(init=False, repr=False)
    feature_scale_: FloatArray = dataclasses.field(init=False, repr=False)
    nets_: list[Any] = dataclasses.field(init=False, repr=False, default_factory=list)
    #: Mean training loss per epoch, shape ``(epochs,)``.
    training_curve_: FloatArray = dataclasses.field(init=False, repr=False)

    def _check(self) -> None:
        if self.mode not in MODES:
            raise ModelError(f"ranker mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.bottom not in BOTTOMS:
            raise ModelError(f"ranker bottom must be 'shared' or 'mmoe', got {self.bottom!r}")

    @property
    def fitted(self) -> bool:
        return bool(self.nets_)

    # --- training ---------------------------------------------------------------------
    def fit(
        self,
        features: npt.ArrayLike,
        positions: npt.ArrayLike,
        click: npt.ArrayLike,
        purchase: npt.ArrayLike,
    ) -> Self:
        """Learn from ``n`` logged impressions.

        ``features``: ``(n, d)``; ``positions``: ``(n,)`` 0-based slot each was shown in;
        ``click`` / ``purchase``: ``(n,)`` 0/1 labels (a purchase implies a click).
        """
        import torch

        from shopsense.models._torch import torch_threads

        self._check()
        x = np.asarray(features, np.float32)
        pos = np.asarray(positions, np.int64)
        y_click = np.asarray(click, np.float32)
        y_buy = np.asarray(purchase, np.float32)
        if x.ndim != 2 or not (x.shape[0] == pos.size == y_click.size == y_buy.size):
            raise ModelError(
                f"ranker.fit needs features (n, d) and n positions / labels; got {x.shape}, "
                f"{pos.size}, {y_click.size}, {y_buy.size}"
            )
        if x.shape[0] == 0 or y_click.sum() == 0:
            raise ModelError("ranker.fit needs impressions with at least one click")
        self.feature_mean_ = x.mean(axis=0)
        self.feature_scale_ = x.std(axis=0) + 1e-6
        xs = (x - self.feature_mean_) / self.feature_scale_
        curve = np.zeros(self.epochs, np.float32)
        with torch_threads(self.num_threads):
            torch.manual_seed(self.random_state)
            n_nets = 2 if self.mode == "single" else 1
            self.nets_ = [
                _net(x.shape[1], self.hidden, self.bottom, self.experts, self.n_positions)
                for _ in range(n_nets)
            ]
            for k, net in enumerate(self.nets_):
                # The single-task CVR net sees clicked impressions only (ESMM's BASE).
                rows = np.flatnonzero(y_click > 0) if k == 1 else np.arange(x.shape[0])
                curve += self._train(net, k, xs[rows], pos[rows], y_click[rows], y_buy[rows])
        self.training_curve_ = curve
        return self

    def _train(
        self,
        net: Any,
        which: int,
        x: FloatArray,
        pos: npt.NDArray[np.int64],
        y_click: FloatArray,
        y_buy: FloatArray,
    ) -> FloatArray:
        import torch
        from torch.nn import functional as F  # noqa: N812

        optimizer = torch.optim.Adam(
            net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        tensors = [torch.from_numpy(a) for a in (x, pos, y_click, y_buy)]
        generator = torch.Generator().manual_seed(self.random_state + which)
        curve = np.zeros(self.epochs, np.float32)
        net.train()
        for epoch in range(self.epochs):
            order = torch.randperm(x.shape[0], generator=generator)
            total = 0.0
            for start in range(0, x.shape[0], self.batch_size):
                batch = order[start : start + self.batch_size]
                xb, pb, cb, bb = (t[batch] for t in tensors)
                ctr_logit, cvr_logit = net(xb, pb)
                if self.mode == "esmm":
                    # p(click and purchase) = p(click) * p(purchase | click), on all rows.
                    ctcvr = torch.sigmoid(ctr_logit) * torch.sigmoid(cvr_logit)
                    loss = F.binary_cross_entropy_with_logits(
                        ctr_logit, cb
                    ) + F.binary_cross_entropy(ctcvr.clamp(1e-7, 1 - 1e-7), bb)
                elif which == 1:
                    loss = F.binary_cross_entropy_with_logits(cvr_logit, bb)
                else:
                    loss = F.binary_cross_entropy_with_logits(ctr_logit, cb)
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                total += float(loss.detach()) * int(batch.numel())
            curve[epoch] = total / max(x.shape[0], 1)
            log.debug("ranker %s net %d epoch %d loss %.4f", self.mode, which, epoch, curve[epoch])
        net.eval()
        return curve

    # --- scoring ----------------------------------------------------------------------
    def predict(self, features: npt.ArrayLike) -> RankerScores:
        """Position-neutral predictions for feature rows ``(n, d)``."""
        import torch

        from shopsense.models._torch import torch_threads

        if not self.fitted:
            raise ModelError("the ranker is not fitted; call fit() or load() first")
        x = np.asarray(features, np.float32)
        if x.ndim != 2 or x.shape[1] != self.feature_mean_.size:
            raise ModelError(
                f"the ranker was trained on {self.feature_mean_.size} features, got shape "
                f"{x.shape}; build features with the same FeatureBuilder"
            )
        xs = torch.from_numpy((x - self.feature_mean_) / self.feature_scale_)
        with torch_threads(self.num_threads), torch.no_grad():
            ctr_logit, cvr_logit = self.nets_[0](xs, None)
            ctr = torch.sigmoid(ctr_logit).numpy()
            if self.mode == "single":
                cvr = torch.sigmoid(self.nets_[1](xs, None)[1]).numpy()
            elif self.mode == "click":
                cvr = ctr.copy()
            else:
                cvr = torch.sigmoid(cvr_logit).numpy()
        ctcvr = ctr if self.mode == "click" else ctr * cvr
        return RankerScores(
            ctr.astype(np.float32), cvr.astype(np.float32), ctcvr.astype(np.float32)
        )

    def objective_scores(
        self,
        features: npt.ArrayLike,
        objective: Objective = "conversions",
        prices: npt.ArrayLike | None = None,
    ) -> FloatArray:
        """One score per row ``(n,)`` for ``objective``: ``clicks`` -> p(click),
        ``conversions`` -> p(click and purchase), ``revenue`` -> that times ``prices`` (n,)."""
        scores = self.predict(features)
        if objective == "clicks":
            return scores.ctr
        if objective == "conversions":
            return scores.ctcvr
        if objective == "revenue":
            if prices is None:
                raise ModelError("objective 'revenue' needs the candidates' prices")
            return (scores.ctcvr * np.asarray(prices, np.float32)).astype(np.float32)
        raise ModelError(
            f"unknown ranking objective {objective!r}; use clicks, conversions or revenue"
        )

    def rank(
        self,
        features: npt.ArrayLike,
        objective: Objective = "conversions",
        prices: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.int64]:
        """Row indices ``(n,)`` best first for ``objective`` (ties by lower index)."""
        scores = self.objective_scores(features, objective, prices)
        return np.lexsort((np.arange(scores.size), -scores)).astype(np.int64)

    # --- persistence (JSON + npz, no pickle) -----------------------------------------
    def get_params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def save(self, directory: Path) -> None:
        if not self.fitted:
            raise ModelError("the ranker is not fitted; nothing to save")
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "model": "ranker",
            "params": self.get_params(),
            "n_features": int(self.feature_mean_.size),
        }
        (directory / "model.json").write_text(json.dumps(meta))
        arrays: dict[str, npt.NDArray[Any]] = {
            "feature_mean_": self.feature_mean_,
            "feature_scale_": self.feature_scale_,
            "training_curve_": self.training_curve_,
        }
        for k, net in enumerate(self.nets_):
            arrays.update({f"net{k}.{n}": v.detach().numpy() for n, v in net.state_dict().items()})
        np.savez(directory / "state.npz", **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, directory: Path) -> MultiTaskRanker:
        import torch

        try:
            meta = json.loads((directory / "model.json").read_text())
            if meta.get("model") != "ranker":
                raise ModelError(f"{directory} holds a {meta.get('model')!r} model, not a ranker")
            model = cls(**meta["params"])
            model._check()
            with np.load(directory / "state.npz", allow_pickle=False) as arrays:
                state = {k: arrays[k] for k in arrays.files}
        except (OSError, KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
            raise ModelError(f"cannot load the ranker from {directory}: {exc}") from exc
        model.feature_mean_ = state.pop("feature_mean_")
        model.feature_scale_ = state.pop("feature_scale_")
        model.training_curve_ = state.pop("training_curve_")
        n_nets = 2 if model.mode == "single" else 1
        for k in range(n_nets):
            net = _net(
                int(meta["n_features"]),
                model.hidden,
                model.bottom,
                model.experts,
                model.n_positions,
            )
            prefix = f"net{k}."
            net.load_state_dict(
                {
                    n[len(prefix) :]: torch.from_numpy(v)
                    for n, v in state.items()
                    if n.startswith(prefix)
                }
            )
            net.eval()
            model.nets_.append(net)
        return model
