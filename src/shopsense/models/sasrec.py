"""SASRec: a causal transformer over the shopper's item sequence (Kang & McAuley 2018).

Trained with full-softmax cross-entropy over every item at every position, which is far
stronger than the paper's one-negative binary loss (Klenitskiy & Vasilev 2023; Petrov &
Macdonald 2023); ``negatives=m`` switches to a sampled softmax against ``m`` shared random
items per batch when scoring the whole catalog at every position is too slow.

Scoring reads the shopper's latest ``maxlen`` items, so a new event changes the next answer
at once. Training stops early on the held-out last step of a sample of the training
shoppers (``valid_fraction``); ``fit`` sees nothing else.

Example::

    >>> model = SASRec(hidden=64, layers=2).fit(data)                      # doctest: +SKIP
    >>> model.recommend("U0001", n=10)                                     # doctest: +SKIP
    >>> model.recommend("new-shopper", history=["P00012", "P00450"])       # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from shopsense import progress
from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.models.base import FloatArray, Histories, IntArray, Recommender

if TYPE_CHECKING:
    from shopsense.models._torch import SASRecNet

log = logging.getLogger(__name__)


@dataclasses.dataclass(eq=False)
class SASRec(Recommender):
    """Self-attentive sequential recommender in PyTorch, cross-entropy trained."""

    name: ClassVar[str] = "sasrec"

    hidden: int = 64
    layers: int = 2
    heads: int = 1
    dropout: float = 0.5
    #: Only the latest ``maxlen`` items of a sequence are read (and trained on).
    maxlen: int = 50
    learning_rate: float = 1e-3
    batch_size: int = 128
    #: Upper bound on training epochs.
    epochs: int = 200
    #: Stop after this many epochs without a better held-out NDCG@10 (best epoch is kept).
    patience: int = 10
    #: Share of shoppers whose last step is held out for early stopping; 0 trains all epochs.
    valid_fraction: float = 0.1
    #: 0: full softmax over every item. ``m > 0``: sampled softmax against ``m`` uniformly
    #: drawn items shared by each batch, for large catalogs (used when ``m < n_items``).
    negatives: int = 0
    random_state: int = 42
    num_threads: int = 2
    #: Where training runs: "cpu", "cuda" (or "cuda:N"), or "auto" (a GPU when torch sees
    #: one). The trained network always comes back to the CPU for serving.
    device: str = "cpu"
    #: With a teacher (:meth:`distilled_from`): the share of the loss that matches the
    #: teacher's next-item distribution (KL at ``distill_temperature``); the rest is the
    #: usual cross-entropy on the true next item. Chosen on Beauty's validation step
    #: among (0.5, 2) and (0.2, 1): see BENCHMARKS.md, SASRec compressed.
    distill_weight: float = 0.2
    distill_temperature: float = 1.0

    item_features_: FloatArray | None = dataclasses.field(init=False, repr=False, default=None)
    teacher_: SASRec | None = dataclasses.field(init=False, repr=False, default=None)
    net_: SASRecNet = dataclasses.field(init=False, repr=False)
    #: One row per epoch: (epoch, mean training loss, held-out NDCG@10 or NaN, seconds).
    training_curve_: FloatArray = dataclasses.field(init=False, repr=False)

    def with_item_features(self, features: npt.ArrayLike | None) -> Self:
        """Add fixed item vectors ``(n_items, d)`` (rows in the fit data's item order).

        Their learned projection is added to each item's embedding, so items with few
        interactions borrow from similar ones. ``None`` removes them. Call before ``fit``.
        """
        self.item_features_ = None if features is None else np.asarray(features, np.float32)
        return self

    def distilled_from(self, teacher: SASRec | None) -> Self:
        """Train as a student of a fitted ``teacher`` (typically larger) on the same data:
        its loss also matches the teacher's next-item distribution at every position
        (knowledge distillation, over the same softmax columns). ``None``: no teacher.
        Call before ``fit``; the teacher is not saved with the student."""
        if teacher is not None:
            teacher._require_fit()
        self.teacher_ = teacher
        return self

    def quantized(self) -> SASRec:
        """A copy that scores through onnxruntime with int8 weights: the network exported
        to ONNX and dynamically quantised (int8 weights per output channel, activations
        quantised on the fly), as the int8 text encoder is; the item table's product with
        the sequence state included. For serving in this process (save the float model).
        Needs the search extra's onnxruntime and onnx."""
        import copy

        self._require_fit()
        twin = copy.copy(self)
        twin.__dict__["_int8"] = _Int8Scorer(self.net_, self.maxlen, self.num_threads)
        return twin

    # --- training ---------------------------------------------------------------------
    def _fit(self, data: InteractionData) -> None:
        import torch

        from shopsense.models._torch import SASRecNet, held_out_ndcg, torch_threads

        features = self._checked_features(data)
        teacher = self.teacher_
        if teacher is not None and teacher.items_.to_list() != data.items.to_list():
            raise ModelError("the SASRec teacher was trained on other items; fit it on this data")
        rng = np.random.default_rng(self.random_state)
        sequences = [data.sequence(u) for u in range(data.n_users)]
        valid_users = self._held_out_users(sequences, rng)
        train_sequences = list(sequences)
        for u in valid_users:
            train_sequences[u] = sequences[u][:-1]
        train_tokens = self._training_windows(train_sequences)
        valid_inputs = self._tokens([train_sequences[u] for u in valid_users])
        valid_targets = np.array([sequences[u][-1] for u in valid_users], np.int64)
        valid_seen = [np.unique(train_sequences[u]) for u in valid_users]

        device = self._torch_device()
        with torch_threads(self.num_threads):
            torch.manual_seed(self.random_state)
            net = SASRecNet(
                data.n_items,
                self.hidden,
                self.layers,
                self.heads,
                self.dropout,
                self.maxlen,
                None if features is None else torch.from_numpy(features),
            ).to(device)
            optimizer = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
            best, best_state, since_best = -1.0, dict(net.state_dict()), 0
            curve: list[tuple[float, float, float, float]] = []
            # ``total`` is the bound: early stopping ends the task sooner
            with progress.task("sasrec epochs", total=self.epochs, unit="epochs") as advance:
                for epoch in range(1, self.epochs + 1):
                    started = time.perf_counter()
                    loss = self._train_epoch(net, optimizer, train_tokens, rng)
                    ndcg = float("nan")
                    if valid_users.size:
                        ndcg = held_out_ndcg(
                            net, valid_inputs, valid_targets, valid_seen, seed=self.random_state
                        )
                    seconds = time.perf_counter() - started
                    curve.append((epoch, loss, ndcg, seconds))
                    log.info("sasrec epoch %d loss %.4f held-out NDCG@10 %.4f (%.1fs)", *curve[-1])
                    advance(1)
                    if not valid_users.size:
                        continue
                    if ndcg > best:
                        best, since_best = ndcg, 0
                        best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                    else:
                        since_best += 1
                        if since_best >= self.patience:
                            break
            if valid_users.size:
                net.load_state_dict(best_state)
        net.eval()
        self.net_ = net.cpu()
        self.__dict__.pop("_teacher_on", None)
        self.training_curve_ = np.array(curve, np.float32).reshape(-1, 4)

    def _train_epoch(
        self, net: SASRecNet, optimizer: Any, tokens: IntArray, rng: np.random.Generator
    ) -> float:
        import torch

        from shopsense.models._torch import trim_padding

        net.train()
        device = net.item_embedding.weight.device
        n_items = int(net.item_embedding.num_embeddings) - 1
        # Batches of similar lengths (random within a length, batches in random order):
        # shop sequences are mostly short, and a batch pads to its longest row.
        lengths = (tokens > 0).sum(axis=1)
        order = np.lexsort((rng.random(len(tokens)), lengths))
        starts = rng.permutation(np.arange(0, len(order), self.batch_size))
        total, batches = 0.0, 0
        for start in starts:
            batch = torch.from_numpy(tokens[order[start : start + self.batch_size]]).to(device)
            negatives = None
            if 0 < self.negatives < n_items:
                negatives = torch.from_numpy(rng.integers(0, n_items, self.negatives)).to(device)
            trimmed = trim_padding(batch, guide=batch[:, :-1])
            loss = self._loss(net, trimmed, negatives, device)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            batches += 1
        return total / max(batches, 1)

    def _loss(self, net: SASRecNet, tokens: Any, negatives: Any, device: Any) -> Any:
        """Cross-entropy on the next item; with a teacher, mixed with the KL divergence
        from the teacher's distribution over the same columns (temperature-scaled, times
        ``T²`` so its gradients keep their size, as Hinton et al.)."""
        import torch
        from torch.nn import functional as F  # noqa: N812

        if self.teacher_ is None:
            return net.loss(tokens, negatives)
        logits, labels = net.logits(tokens, negatives)
        teacher = self._teacher_net(device)
        with torch.no_grad():
            target, _ = teacher.logits(tokens, negatives)
        hard = F.cross_entropy(logits, labels)
        t = self.distill_temperature
        # -inf columns (a sampled item that is the target) are masked alike in both
        finite = torch.isfinite(target)
        student_log_p = F.log_softmax(logits / t, dim=1).masked_fill(~finite, 0.0)
        teacher_p = F.softmax(target / t, dim=1)
        soft = (teacher_p * (torch.log(teacher_p.clamp_min(1e-12)) - student_log_p)).sum(1)
        w = self.distill_weight
        return (1 - w) * hard + w * t * t * soft.mean()

    def _teacher_net(self, device: Any) -> SASRecNet:
        """The teacher's network on ``device``, made once per fit (a copy off the CPU: the
        teacher itself keeps serving from the CPU)."""
        import copy

        import torch

        assert self.teacher_ is not None
        net = self.teacher_.net_
        if torch.device(device).type == "cpu":
            return net
        kept = self.__dict__.get("_teacher_on")
        if kept is None or kept[0] is not net or kept[1] != str(device):
            kept = (net, str(device), copy.deepcopy(net).to(device).eval())
            self.__dict__["_teacher_on"] = kept
        moved: SASRecNet = kept[2]
        return moved

    def _torch_device(self) -> Any:
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(self.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ModelError(f"SASRec device={self.device!r}, but torch sees no CUDA GPU")
        return device

    def _held_out_users(self, sequences: list[IntArray], rng: np.random.Generator) -> IntArray:
        """A ``valid_fraction`` sample of shoppers with 3+ steps (2+ remain to train on)."""
        eligible = np.flatnonzero(np.array([s.size >= 3 for s in sequences], dtype=bool))
        n = round(self.valid_fraction * eligible.size)
        return np.sort(rng.choice(eligible, size=n, replace=False)).astype(np.int64)

    def _training_windows(self, sequences: list[IntArray]) -> IntArray:
        """Each shopper's latest ``maxlen + 1`` steps as tokens (inputs + next-item targets)."""
        return self._tokens([s for s in sequences if s.size >= 2], self.maxlen + 1)

    def _tokens(self, sequences: list[IntArray], length: int | None = None) -> IntArray:
        from shopsense.models._torch import right_aligned_tokens

        return right_aligned_tokens(sequences, length or self.maxlen)

    def _checked_features(self, data: InteractionData) -> FloatArray | None:
        features = self.item_features_
        if features is None:
            return None
        if features.ndim != 2 or features.shape[0] != data.n_items:
            raise ModelError(
                f"SASRec item features have shape {features.shape}, expected ({data.n_items}, d)"
                " with rows in the training data's item order; build them from data.items"
            )
        if not np.isfinite(features).all():
            raise ModelError("SASRec item features contain NaN or infinity; clean them first")
        return features

    # --- scoring ----------------------------------------------------------------------
    def _score(self, histories: Histories) -> FloatArray:
        import torch

        from shopsense.models._torch import trim_padding

        scores = np.tile(self.item_popularity_, (len(histories), 1))
        rows = np.flatnonzero([s.size > 0 for s in histories.sequences])
        if rows.size:
            tokens = self._tokens([histories.sequences[i] for i in rows])
            int8 = self.__dict__.get("_int8")
            if int8 is not None:
                scores[rows] = int8.scores(tokens)
                return scores
            with torch.no_grad():
                trimmed = trim_padding(torch.from_numpy(tokens))
                scores[rows] = self.net_.next_item_scores(trimmed).numpy()
        return scores

    def attended(self, history: Sequence[str]) -> list[tuple[str, float]]:
        """The last block's attention of the next-item prediction over the shopper's latest
        ``maxlen`` items (consecutive repeats collapsed, unknown items left out, as when
        scoring), averaged over heads and summed per item."""
        import torch

        self._require_fit()
        index = self.items_.indices(list(history))
        known = index[index >= 0]
        if known.size == 0:
            return []
        keep = np.ones(known.size, dtype=bool)
        keep[1:] = known[1:] != known[:-1]
        sequence = known[keep][-self.maxlen :]
        tokens = torch.from_numpy(self._tokens([sequence], sequence.size))
        with torch.no_grad():
            weights = self.net_.attention(tokens)[0].numpy().astype(np.float64)
        totals: dict[str, float] = {}
        for item, weight in zip(self.items_.ids(sequence), weights, strict=True):
            totals[str(item)] = totals.get(str(item), 0.0) + float(weight)
        return sorted(totals.items(), key=lambda pair: -pair[1])

    def item_embeddings(self) -> FloatArray:
        """The network's item vectors (computed once per trained network)."""
        import torch

        cached = self.__dict__.get("_item_vectors")
        if cached is None or cached[0] is not self.net_:
            with torch.no_grad():
                cached = (self.net_, self.net_.item_vectors().numpy().astype(np.float32))
            self.__dict__["_item_vectors"] = cached
        vectors: FloatArray = cached[1]
        return vectors

    # --- persistence ------------------------------------------------------------------
    def _state(self) -> dict[str, npt.NDArray[Any]]:
        if self.__dict__.get("_int8") is not None:
            raise ModelError("an int8 SASRec is not saved: save the float model, quantize it")
        arrays = {f"net.{k}": v.detach().numpy() for k, v in self.net_.state_dict().items()}
        return {**arrays, "training_curve_": self.training_curve_}

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]]) -> None:
        import torch

        from shopsense.models._torch import SASRecNet

        features = arrays.get("net.item_features")
        self.item_features_ = features
        self.net_ = SASRecNet(
            len(self.items_),
            self.hidden,
            self.layers,
            self.heads,
            self.dropout,
            self.maxlen,
            None if features is None else torch.from_numpy(features),
        )
        state = {k[4:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("net.")}
        self.net_.load_state_dict(state)
        self.net_.eval()
        self.training_curve_ = arrays["training_curve_"]


class _Int8Scorer:
    """A SASRec network's next-item scores run by onnxruntime with int8 weights. Inputs are
    always ``maxlen`` tokens wide (left-padded), so the exported graph has one shape."""

    def __init__(self, net: SASRecNet, maxlen: int, num_threads: int) -> None:
        import tempfile
        from pathlib import Path

        import onnxruntime  # type: ignore[import-untyped]
        import torch

        from shopsense.features.text import quantized

        class NextScores(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = net

            def forward(self, tokens: Any) -> Any:
                return self.net.next_item_scores(tokens)

        self.maxlen = maxlen
        with tempfile.TemporaryDirectory() as folder:
            fp32 = Path(folder) / "sasrec.onnx"
            example = torch.ones((2, maxlen), dtype=torch.int64)
            with torch.no_grad():
                torch.onnx.export(
                    NextScores().eval(),
                    (example,),
                    str(fp32),
                    input_names=["tokens"],
                    output_names=["scores"],
                    dynamic_axes={"tokens": {0: "batch"}, "scores": {0: "batch"}},
                    opset_version=17,
                    dynamo=False,
                )
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
            int8 = quantized(fp32)
            #: The int8 model's size in bytes (what a saved copy would take).
            self.size_bytes = int8.stat().st_size
            self.session = onnxruntime.InferenceSession(
                str(int8), options, providers=["CPUExecutionProvider"]
            )

    def scores(self, tokens: IntArray) -> FloatArray:
        """Scores ``(b, n_items)`` for right-aligned ``tokens`` ``(b, maxlen)``."""
        out: FloatArray = self.session.run(None, {"tokens": tokens.astype(np.int64)})[0]
        return out
