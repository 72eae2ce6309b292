"""Mult-DAE: a denoising autoencoder with a multinomial likelihood (Liang et al., WWW 2018).

The shopper's history is a vector of event weights over the catalog (repeats add up, the
``k``-th event back weighs ``recency ** k``). It is ``log1p``-compressed, L2-normalised,
corrupted by dropout, encoded (``tanh``) to ``hidden`` units and decoded to one logit per
item (the decoder's bias starts at the log-popularity). ``objective="next"`` (default)
trains on every event of every shopper, predicted from the ``window`` events before it:
the multinomial log-likelihood of what the shopper did next, repeats included, so the
model learns both what goes with what and how much shoppers come back to what they had.
``objective="reconstruct"`` is the published Mult-DAE: each shopper's whole history
reconstructed from its corrupted self. Scores are **log-probabilities** of the next
engagement (``log_softmax``), comparable across shoppers, which is what the feedback
ranker's prior wants. A fresh history is one forward pass: no fold-in.

Example::

    >>> model = MultDAE(hidden=200, epochs=50).fit(data)                     # doctest: +SKIP
    >>> model.recommend("new-shopper", history=["P1", "P1", "P7"],
    ...                 exclude_seen=False)                                  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense import progress
from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.models.base import FloatArray, Histories, Recommender


@dataclasses.dataclass(eq=False)
class MultDAE(Recommender):
    """Multinomial denoising autoencoder over (weighted, repeat-counting) histories."""

    name: ClassVar[str] = "mult_dae"
    log_probabilities: ClassVar[bool] = True

    hidden: int = 200
    dropout: float = 0.5
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-5
    #: ``"next"``: predict each event from the ones before it; ``"reconstruct"``: the
    #: published Mult-DAE (each history from its corrupted self).
    objective: str = "next"
    #: Weight of the ``k``-th event back: ``recency ** k`` (1: every event counts the same).
    recency: float = 0.9
    #: Events before a target that enter its input (``objective="next"``).
    window: int = 50
    #: At most this many training examples per epoch (a random sample when there are more).
    max_examples: int = 200_000
    #: Event weights enter as ``log1p(weight)`` (one view of many does not dominate).
    log_weights: bool = True
    random_state: int = 42
    num_threads: int = 1

    encoder_: FloatArray = dataclasses.field(init=False, repr=False)
    encoder_bias_: FloatArray = dataclasses.field(init=False, repr=False)
    decoder_: FloatArray = dataclasses.field(init=False, repr=False)
    decoder_bias_: FloatArray = dataclasses.field(init=False, repr=False)

    def half_precision_state(self) -> frozenset[str]:
        return frozenset({"encoder_", "decoder_"})

    def _inputs(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """Rows (``log1p`` of the weights) scaled to unit length, on the CSR arrays."""
        x = matrix.astype(np.float32, copy=True)
        if self.log_weights:
            x.data = np.log1p(x.data)
        row_of = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        squares = np.bincount(row_of, np.square(x.data, dtype=np.float64), x.shape[0])
        norms = np.sqrt(squares)
        norms[norms == 0] = 1.0
        x.data = (x.data / norms[row_of]).astype(np.float32)
        return x

    def _check(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ModelError(f"MultDAE dropout must be in [0, 1), got {self.dropout}")
        if self.objective not in ("next", "reconstruct"):
            raise ModelError(
                f"MultDAE objective must be next or reconstruct, got {self.objective!r}"
            )
        if not 0.0 < self.recency <= 1.0:
            raise ModelError(f"MultDAE recency must be in (0, 1], got {self.recency}")

    def _next_examples(
        self, data: InteractionData, chosen: npt.NDArray[np.int64]
    ) -> tuple[sp.csr_matrix, npt.NDArray[np.int64]]:
        """Inputs (the ``window`` events before each chosen log row, recency-weighted) and
        targets (each row's item) for log rows ``chosen`` (sorted by user, then time)."""
        starts = np.concatenate(
            [[0], np.cumsum(np.bincount(data.log_user, minlength=data.n_users))]
        )
        first = np.maximum(starts[data.log_user[chosen]], chosen - self.window)
        lengths = chosen - first
        rows = np.repeat(np.arange(chosen.size), lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        source = np.repeat(first, lengths) + offsets
        back = np.repeat(chosen, lengths) - 1 - source
        values = data.log_weight[source] * np.power(self.recency, back)
        x = sp.csr_matrix(
            (values.astype(np.float32), (rows, data.log_item[source])),
            shape=(chosen.size, data.n_items),
        )
        x.sum_duplicates()
        return self._inputs(x), data.log_item[chosen]

    def _fit(self, data: InteractionData) -> None:
        import torch
        from torch import nn
        from torch.nn import functional as F  # noqa: N812

        from shopsense.models._torch import torch_threads

        self._check()
        n_items = data.n_items
        rng = np.random.default_rng(self.random_state)
        if self.objective == "next":
            starts = np.concatenate(
                [[0], np.cumsum(np.bincount(data.log_user, minlength=data.n_users))]
            )
            first_of_user = np.zeros(data.n_events, bool)
            first_of_user[starts[:-1][starts[:-1] < data.n_events]] = True
            usable = np.flatnonzero(~first_of_user)
        else:
            counts = data.matrix.astype(np.float32)
            usable = np.flatnonzero(np.diff(counts.indptr) > 0)
            targets_all = counts
            inputs_all = self._inputs(counts)
        popularity = np.bincount(data.log_item, minlength=n_items).astype(np.float64) + 0.1
        with torch_threads(self.num_threads):
            torch.manual_seed(self.random_state)
            encoder = nn.Linear(n_items, self.hidden)
            decoder = nn.Linear(self.hidden, n_items)
            with torch.no_grad():  # start at popularity: the decoder bias is log p(item)
                decoder.bias.copy_(torch.from_numpy(np.log(popularity / popularity.sum())))
            parameters = [*encoder.parameters(), *decoder.parameters()]
            optimizer = torch.optim.Adam(
                parameters, lr=self.learning_rate, weight_decay=self.weight_decay
            )
            for _ in progress.track(range(self.epochs), "mult_dae epochs", unit="epochs"):
                order = rng.permutation(usable)[: self.max_examples]
                for start in range(0, order.size, self.batch_size):
                    rows = np.sort(order[start : start + self.batch_size])
                    if self.objective == "next":
                        x_sparse, target = self._next_examples(data, rows)
                        x = torch.from_numpy(x_sparse.toarray())
                        logits = decoder(torch.tanh(encoder(F.dropout(x, self.dropout, True))))
                        loss = F.cross_entropy(logits, torch.from_numpy(target))
                    else:
                        x = torch.from_numpy(inputs_all[rows].toarray())
                        y = torch.from_numpy(targets_all[rows].toarray())
                        logits = decoder(torch.tanh(encoder(F.dropout(x, self.dropout, True))))
                        loss = -(F.log_softmax(logits, dim=1) * y).sum(dim=1).mean()
                    optimizer.zero_grad()
                    loss.backward()  # type: ignore[no-untyped-call]
                    optimizer.step()
        self.encoder_ = encoder.weight.detach().numpy().T.copy()  # (n_items, hidden)
        self.encoder_bias_ = encoder.bias.detach().numpy().copy()
        self.decoder_ = decoder.weight.detach().numpy().T.copy()  # (hidden, n_items)
        self.decoder_bias_ = decoder.bias.detach().numpy().copy()

    def _score(self, histories: Histories) -> FloatArray:
        x = self._inputs(histories.recency_matrix(self.recency, self.decoder_bias_.size))
        hidden = np.tanh(np.asarray(x @ self.encoder_) + self.encoder_bias_)
        logits = hidden @ self.decoder_ + self.decoder_bias_
        top = logits.max(axis=1, keepdims=True)
        log_p = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
        result: FloatArray = log_p.astype(np.float32)
        return result

    def _cold_scores(self) -> FloatArray:
        empty = sp.csr_matrix((1, self.decoder_bias_.size), dtype=np.float32)
        scores: FloatArray = self._score(
            Histories(np.array([-1]), empty, [np.empty(0, np.int64)], True)
        )[0]
        return scores

    def _item_scores(self, item: int) -> FloatArray:
        row = sp.csr_matrix(
            (np.ones(1, np.float32), ([0], [item])), shape=(1, self.decoder_bias_.size)
        )
        scores: FloatArray = self._score(Histories(np.array([-1]), row, [np.array([item])], True))[
            0
        ]
        return scores

    def _state(self) -> dict[str, npt.NDArray[Any]]:
        return {
            "encoder_": self.encoder_,
            "encoder_bias_": self.encoder_bias_,
            "decoder_": self.decoder_,
            "decoder_bias_": self.decoder_bias_,
        }

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]]) -> None:
        self.encoder_ = arrays["encoder_"]
        self.encoder_bias_ = arrays["encoder_bias_"]
        self.decoder_ = arrays["decoder_"]
        self.decoder_bias_ = arrays["decoder_bias_"]
