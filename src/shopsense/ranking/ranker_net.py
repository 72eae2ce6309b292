"""The ranker's torch network and its training loop (see :mod:`shopsense.ranking.ranker`).

:func:`build_net` makes the click / cart / purchase network: monotone priors, item effects,
a never-positive skip effect, position logits, and wide + deep residual terms;
:func:`train_net` fits one with early stopping on held-out requests or for a fixed number of
updates. Torch is imported lazily (the ``ml`` extra).
"""

from __future__ import annotations

import math
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt

from shopsense import progress

FloatArray = npt.NDArray[np.float32]
#: How much the click head learns beyond its monotone priors and item effects: nothing,
#: a linear (wide) term, or wide + deep.
RESIDUAL_NONE, RESIDUAL_LINEAR, RESIDUAL_FULL = 0, 1, 2
#: The click head's residual settings that fix a level (``"auto"`` chooses one of them).
RESIDUAL_LEVELS = {"off": RESIDUAL_NONE, "linear": RESIDUAL_LINEAR, "on": RESIDUAL_FULL}


class NetSpec(Protocol):
    """What the network and its training read from a ranker's settings."""

    tasks: tuple[str, ...]
    bottom: str
    hidden: int
    experts: int
    dropout: float
    n_positions: int
    prior_indices_: tuple[int, ...]
    skip_index_: int
    n_items_: int
    item_l2_: float
    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    patience: int
    random_state: int


def build_net(
    n_features: int, n_items: int, knots: FloatArray, ranker: NetSpec, residual: int
) -> Any:
    """The torch module of a ranker (built lazily: torch is the ``ml`` extra)."""
    import torch
    from torch import Tensor, nn
    from torch.nn import functional as F  # noqa: N812

    hidden, heads = ranker.hidden, len(ranker.tasks)

    def mlp() -> nn.Module:
        return nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Dropout(ranker.dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
        )

    def tower() -> nn.Module:
        last = nn.Linear(hidden // 2, 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        return nn.Sequential(nn.Linear(hidden, hidden // 2), nn.ReLU(), last)

    class MultiTaskNet(nn.Module):
        """``forward(x (b, d), items (b,), positions (b,) or None) -> logits (b, heads)``:
        the click logit (plus its position term when ``positions`` is given), then the
        conditional cart and purchase logits."""

        def __init__(self) -> None:
            super().__init__()
            if ranker.bottom == "mmoe":
                self.experts = nn.ModuleList(mlp() for _ in range(ranker.experts))
                self.gates = nn.ModuleList(
                    nn.Linear(n_features, ranker.experts) for _ in range(heads)
                )
            else:
                self.shared = mlp()
            self.towers = nn.ModuleList(tower() for _ in range(heads))
            self.wide = nn.Linear(n_features, heads)
            nn.init.zeros_(self.wide.weight)
            # Item effects: row n_items stands for products the ranker never saw.
            self.item_effect = nn.Embedding(n_items + 1, 1)
            nn.init.zeros_(self.item_effect.weight)
            # Monotone priors: a slope plus non-negative steps at the knots (softplus > 0).
            self.register_buffer("knots", torch.from_numpy(np.asarray(knots, np.float32)))
            skip = [ranker.skip_index_] if ranker.skip_index_ >= 0 else []
            structural = [*ranker.prior_indices_, *skip]
            self.register_buffer("structural", torch.tensor(structural, dtype=torch.long))
            # Shown and not clicked: a learned, never positive effect on the click logit,
            # starting at none (softplus(-8) ~ 0.0003): only the data can make it matter.
            self.skip_slope = nn.Parameter(torch.tensor(-8.0))
            priors = max(len(ranker.prior_indices_), 1)
            self.prior_slope = nn.Parameter(torch.zeros(priors))
            self.prior_steps = nn.Parameter(torch.full((priors, knots.shape[-1]), -4.0))
            # Position 0 is the reference (its logit is 0): serving scores "as if on top".
            self.position_logit = nn.Parameter(torch.zeros(ranker.n_positions - 1))

        def prior(self, x: Tensor) -> Tensor:
            if not ranker.prior_indices_:
                return torch.zeros(x.shape[0])
            z = x[:, list(ranker.prior_indices_)]  # (b, priors)
            knots = cast(Tensor, self.knots)  # (priors, knots)
            steps = torch.sigmoid(4.0 * (z.unsqueeze(2) - knots.unsqueeze(0)))
            linear = (F.softplus(self.prior_slope) * z).sum(1)
            return linear + (steps * F.softplus(self.prior_steps)).sum((1, 2))

        def forward(self, x: Tensor, items: Tensor, positions: Tensor | None) -> Tensor:
            # The priors and the skips reach the click logit through their own monotone
            # terms only; the rest of the network does not see them.
            columns = cast(Tensor, self.structural)
            rest = x.index_fill(1, columns, 0.0) if columns.numel() else x
            if ranker.bottom == "mmoe":
                stacked = torch.stack([e(rest) for e in self.experts], dim=1)  # (b, E, hidden)
                inputs = [
                    (torch.softmax(g(rest), dim=-1).unsqueeze(-1) * stacked).sum(dim=1)
                    for g in self.gates
                ]
            else:
                inputs = [self.shared(rest)] * heads
            deep = torch.cat([t(h) for t, h in zip(self.towers, inputs, strict=True)], dim=1)
            wide = self.wide(rest)
            logits = deep + wide
            # Without the residual the click head keeps only its base rate from ``wide``.
            if residual >= RESIDUAL_FULL:
                rest_of_click = logits[:, 0]
            elif residual == RESIDUAL_LINEAR:
                rest_of_click = wide[:, 0]
            else:
                rest_of_click = self.wide.bias[0]
            click = self.prior(x) + self.item_effect(items).squeeze(1) + rest_of_click
            if ranker.skip_index_ >= 0:
                click = click - F.softplus(self.skip_slope) * x[:, ranker.skip_index_]
            if positions is not None:
                table = torch.cat([torch.zeros(1), self.position_logit])
                click = click + table[positions.clamp(0, ranker.n_positions - 1)]
            return torch.cat([click.unsqueeze(1), logits[:, 1:]], dim=1)

    return MultiTaskNet()


def scoring_net(net: Any, n_features: int) -> Any:
    """``net`` traced for serving: ``(x (b, d), items (b,)) -> logits (b, heads)`` as if every
    row were shown at the top. The trace runs the forward pass as one graph, without the
    Python overhead of each module: about a third of a served list's ranker time. It is
    then frozen (weights inlined as constants; the same logits, in less time per call: see
    BENCHMARKS.md, serving CPU per list): ``net``'s weights must not change afterwards, and
    they do not: every training run builds a fresh net."""
    import warnings

    import torch

    class AtTheTop(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: Any, items: Any) -> Any:
            return self.net(x, items, None)

    example = (torch.zeros(2, n_features), torch.zeros(2, dtype=torch.long))
    with warnings.catch_warnings(), torch.inference_mode():
        # The trace treats the network's structure (which columns are structural, the
        # residual level) as constants: they are fixed once the network is built.
        warnings.simplefilter("ignore")  # TracerWarning: "treated as a constant", as meant
        traced = torch.jit.trace(  # type: ignore[no-untyped-call]
            AtTheTop().eval(), example, check_trace=False
        )
        return torch.jit.freeze(traced)


def chain_log_probs(logits: Any) -> tuple[Any, Any]:
    """``(log p, log (1 - p))`` of each task ``(b, heads)``: cumulative products of the
    chained conditional probabilities."""
    import torch
    from torch.nn import functional as F  # noqa: N812

    log_p = torch.cumsum(F.logsigmoid(logits), dim=1)
    log_not = torch.log1p(-torch.exp(log_p).clamp(max=1 - 1e-6))
    return log_p, log_not


def train_net(
    ranker: NetSpec,
    train: list[npt.NDArray[Any]],
    valid: list[npt.NDArray[Any]] | None,
    updates: int | None,
    knots: FloatArray,
    residual: int,
) -> tuple[Any, FloatArray, int]:
    """Train a fresh net: with ``valid``, epoch by epoch until the held-out loss stops
    improving (returns the best epoch count); else for exactly ``updates`` steps."""
    import torch

    torch.manual_seed(ranker.random_state)
    x, items, pos, y, w = (torch.from_numpy(np.ascontiguousarray(a)) for a in train)
    net = build_net(x.shape[1], ranker.n_items_, knots, ranker, residual)
    with torch.no_grad():  # start at the base rates: no epochs spent learning them
        totals = torch.cat([torch.tensor([float(y.shape[0])]), y.sum(0)[:-1]])
        rates = (y.sum(0) + 0.5) / (totals + 1.0)
        net.wide.bias.copy_(torch.logit(rates.clamp(1e-4, 1 - 1e-4)))
    # Offsets (base rates, positions, the prior's shape, item effects) are few numbers
    # that move far: they learn ten times faster than the networks' weights.
    offsets = [
        net.position_logit, net.prior_slope, net.prior_steps, net.item_effect.weight,
        net.wide.bias, net.skip_slope,
    ]  # fmt: skip
    ids = {id(p) for p in offsets}
    groups: list[dict[str, Any]] = [
        {"params": [p for p in net.parameters() if id(p) not in ids]},
        {"params": offsets, "lr": 10 * ranker.learning_rate, "weight_decay": 0.0},
    ]
    optimizer = torch.optim.Adam(
        groups,
        lr=ranker.learning_rate,
        weight_decay=ranker.weight_decay,
    )
    generator = torch.Generator().manual_seed(ranker.random_state)
    n = x.shape[0]
    per_epoch = math.ceil(n / ranker.batch_size)
    epochs = ranker.max_epochs if updates is None else math.ceil(updates / per_epoch)
    curve: list[float] = []
    best_loss, best_epoch, best_state = math.inf, 0, None
    steps = 0
    with progress.task("ranker epochs", total=epochs, unit="epochs") as advance:
        for epoch in range(epochs):
            net.train()
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, ranker.batch_size):
                if updates is not None and steps >= updates:
                    break
                batch = order[start : start + ranker.batch_size]
                loss = weighted_loss(net, x[batch], items[batch], pos[batch], y[batch], w[batch])
                loss = loss + ranker.item_l2_ * (net.item_effect.weight**2).sum() / n
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                steps += 1
            advance(1)
            if valid is None:
                continue
            held = validation_loss(net, valid)
            curve.append(held)
            if held < best_loss - 1e-6:
                best_loss, best_epoch = held, epoch + 1
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
            elif epoch + 1 - best_epoch >= ranker.patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return net, np.asarray(curve, np.float32), best_epoch


def weighted_loss(net: Any, x: Any, items: Any, pos: Any, y: Any, w: Any) -> Any:
    log_p, log_not = chain_log_probs(net(x, items, pos))
    per_row = -(y * log_p + (1 - y) * log_not).sum(dim=1)
    return (per_row * w).sum() / w.sum()


def row_losses(net: Any, valid: list[npt.NDArray[Any]]) -> npt.NDArray[np.float64]:
    """Each held-out row's weighted loss ``(n,)`` (summed over the tasks)."""
    import torch

    net.eval()
    with torch.no_grad():
        x, items, pos, y, w = (torch.from_numpy(np.ascontiguousarray(a)) for a in valid)
        log_p, log_not = chain_log_probs(net(x, items, pos))
        per_row = -(y * log_p + (1 - y) * log_not).sum(dim=1) * w / w.mean()
    losses: npt.NDArray[np.float64] = per_row.numpy().astype(np.float64)
    return losses


def validation_loss(net: Any, valid: list[npt.NDArray[Any]]) -> float:
    import torch

    net.eval()
    with torch.no_grad():
        x, items, pos, y, w = (torch.from_numpy(np.ascontiguousarray(a)) for a in valid)
        return float(weighted_loss(net, x, items, pos, y, w))
