"""The PyTorch side of the sequence models, imported lazily (torch is the ``ml`` extra).

Sequences enter the network as *tokens*: item index ``i`` is token ``i + 1`` and token 0
is padding. Batches are right-aligned (padding on the left), so the newest item is always
the last column and position embeddings count back from it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

from shopsense.errors import ModelError
from shopsense.metrics import single_target_metrics, target_ranks

IntArray = npt.NDArray[np.int64]


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch on ``n`` intra-op threads inside the block, restoring the setting after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def right_aligned_tokens(sequences: Sequence[IntArray], length: int) -> IntArray:
    """Tokens of each sequence's last ``length`` items, right-aligned: ``(b, length)``."""
    out = np.zeros((len(sequences), length), np.int64)
    for row, items in zip(out, sequences, strict=True):
        tail = items[max(items.size - length, 0) :]
        if tail.size:
            row[length - tail.size :] = tail + 1
    return out


def trim_padding(tokens: Tensor, guide: Tensor | None = None) -> Tensor:
    """Drop leading columns that are padding in every row (of ``guide``, default ``tokens``)."""
    used = ((tokens if guide is None else guide) > 0).any(dim=0)
    first = int(used.to(torch.int8).argmax()) if bool(used.any()) else tokens.shape[1] - 1
    return tokens[:, first:]


class CausalBlock(nn.Module):
    """Pre-norm transformer block whose positions see only themselves and earlier items."""

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.attention_norm = nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.attention_out = nn.Linear(hidden, hidden)
        self.feed_forward_norm = nn.LayerNorm(hidden)
        self.feed_forward = nn.Sequential(
            nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, hidden)
        )
        self.residual_dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, allowed: Tensor) -> Tensor:
        """``x``: ``(b, L, hidden)``; ``allowed``: ``(b, 1, L, L)``, True where query may look."""
        b, length, hidden = x.shape
        q, k, v = self._qkv(x).unbind(0)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=self.dropout if self.training else 0.0
        )
        attended = attended.transpose(1, 2).reshape(b, length, hidden)
        x = x + self.residual_dropout(self.attention_out(attended))
        out: Tensor = x + self.residual_dropout(self.feed_forward(self.feed_forward_norm(x)))
        return out

    def _qkv(self, x: Tensor) -> Tensor:
        """Queries, keys and values ``(3, b, heads, L, hidden / heads)`` of ``x``."""
        b, length, hidden = x.shape
        qkv = self.qkv(self.attention_norm(x)).view(b, length, 3, self.heads, hidden // self.heads)
        out: Tensor = qkv.permute(2, 0, 3, 1, 4)
        return out

    def last_attention(self, x: Tensor, allowed: Tensor) -> Tensor:
        """How much the last position attends to each position, averaged over the heads:
        ``(b, L)``, rows summing to 1 (the weights :meth:`forward` applies, without dropout)."""
        q, k, _ = self._qkv(x).unbind(0)
        logits = (q[:, :, -1:] @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        logits = logits.masked_fill(~allowed[:, :, -1:], -torch.inf)
        weights: Tensor = torch.softmax(logits, dim=-1).mean(dim=1)[:, 0]
        return weights


class SASRecNet(nn.Module):
    """Item + position embeddings, causal blocks, and the item table again as output layer.

    ``item_features``: optional fixed ``(n_items, d)`` vectors (e.g. text embeddings), whose
    learned projection is added to each item's embedding.
    """

    def __init__(
        self,
        n_items: int,
        hidden: int,
        layers: int,
        heads: int,
        dropout: float,
        maxlen: int,
        item_features: Tensor | None = None,
    ) -> None:
        super().__init__()
        if hidden % heads:
            raise ModelError(f"SASRec hidden size {hidden} must be a multiple of heads={heads}")
        self.hidden = hidden
        self.maxlen = maxlen
        self.item_embedding = nn.Embedding(n_items + 1, hidden, padding_idx=0)
        self.position_embedding = nn.Embedding(maxlen, hidden)
        self.feature_projection: nn.Linear | None = None
        if item_features is not None:
            self.register_buffer("item_features", item_features.float())
            self.feature_projection = nn.Linear(item_features.shape[1], hidden, bias=False)
        self.embedding_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(CausalBlock(hidden, heads, dropout) for _ in range(layers))
        self.final_norm = nn.LayerNorm(hidden)
        # Small embeddings (as SASRec's xavier init): the table is also the output layer.
        nn.init.xavier_normal_(self.item_embedding.weight)
        nn.init.xavier_normal_(self.position_embedding.weight)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def item_vectors(self) -> Tensor:
        """Every item's vector, ``(n_items, hidden)``; row ``i`` is item index ``i``."""
        vectors = self.item_embedding.weight[1:]
        if self.feature_projection is not None:
            features: Tensor = self.get_buffer("item_features")
            vectors = vectors + self.feature_projection(features)
        return vectors

    def encode(self, tokens: Tensor) -> Tensor:
        """Contextual vectors of right-aligned ``tokens`` ``(b, L)``, ``L <= maxlen``.

        Returns ``(b, L, hidden)``; padding positions hold values nobody reads.
        """
        x, allowed = self._inputs(tokens)
        for block in self.blocks:
            x = block(x, allowed)
        out: Tensor = self.final_norm(x)
        return out

    def attention(self, tokens: Tensor) -> Tensor:
        """What the next-item prediction attends to: the last block's attention of the last
        position over the positions of right-aligned ``tokens`` ``(b, L)``, averaged over
        heads, ``(b, L)`` (0 on padding; each row sums to 1)."""
        x, allowed = self._inputs(tokens)
        for block in self.blocks[:-1]:
            x = block(x, allowed)
        last: CausalBlock = self.blocks[-1]  # type: ignore[assignment]
        return last.last_attention(x, allowed)

    def _inputs(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """The first block's input ``(b, L, hidden)`` and the attention mask ``(b, 1, L, L)``."""
        _b, length = tokens.shape
        if self.feature_projection is None:
            x = self.item_embedding(tokens)
        else:
            table = torch.cat([self.item_embedding.weight[:1], self.item_vectors()])
            x = F.embedding(tokens, table)
        positions = self.position_embedding.weight[self.maxlen - length :]
        x = self.embedding_dropout(x * math.sqrt(self.hidden) + positions)
        real = tokens > 0
        # From position comparisons (not tril / eye): the same masks, and an ONNX export
        # that onnxruntime runs (it has no boolean EyeLike)
        at = torch.arange(length, device=tokens.device)
        causal = at[None, :] <= at[:, None]
        itself = at[None, :] == at[:, None]
        # Padding keys are hidden; every position may see itself, so no row is all-masked.
        allowed = (causal & real[:, None, :]) | itself
        return x, allowed.unsqueeze(1)

    def loss(self, tokens: Tensor, negatives: Tensor | None = None) -> Tensor:
        """Cross-entropy of the next item at every position of ``tokens`` ``(b, L+1)``.

        Full softmax over every item by default. ``negatives``: item indices ``(m,)`` shared
        by the whole batch for a sampled softmax (the target against those ``m``; a sampled
        item that is the target itself is masked out), for catalogs too large to score all.
        """
        logits, labels = self.logits(tokens, negatives)
        return F.cross_entropy(logits, labels)

    def logits(self, tokens: Tensor, negatives: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The next-item logits of every real position of ``tokens`` ``(b, L+1)`` and the
        column of each one's target: over every item (``negatives`` ``None``: the target's
        index), or over the target then ``negatives`` (column 0; a sampled item that is the
        target itself is masked to -inf). :meth:`loss` is their cross-entropy; a distilled
        student matches a teacher's logits over the same columns."""
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        states = self.encode(inputs)
        keep = (inputs > 0) & (targets > 0)
        wanted = targets[keep] - 1
        vectors = self.item_vectors()
        if negatives is None:
            return (states[keep] @ vectors.T).float(), wanted
        kept = states[keep]
        positive = (kept * vectors[wanted]).sum(dim=1, keepdim=True)
        sampled = kept @ vectors[negatives].T
        sampled = sampled.masked_fill(negatives[None, :] == wanted[:, None], -torch.inf)
        return torch.cat([positive, sampled], dim=1).float(), torch.zeros_like(wanted)

    def next_item_scores(self, tokens: Tensor) -> Tensor:
        """Scores ``(b, n_items)`` of the item after each right-aligned row of ``tokens``."""
        scores: Tensor = self.encode(tokens)[:, -1] @ self.item_vectors().T
        return scores


def held_out_ndcg(
    net: SASRecNet,
    inputs: IntArray,
    targets: IntArray,
    seen: Sequence[IntArray],
    k: int = 10,
    batch_size: int = 512,
    seed: int = 0,
) -> float:
    """Mean NDCG@k of one target item per row, the row's ``seen`` items excluded.

    ``inputs``: right-aligned tokens ``(v, L)``; ``targets``: item indices ``(v,)``. Ranks
    come from :func:`shopsense.metrics.target_ranks`, as in the test protocol:
    ties broken at random (the same draws every epoch for one ``seed``), a target among
    ``seen`` a miss.
    """
    net.eval()
    device = net.item_embedding.weight.device
    rng = np.random.default_rng(seed)
    n_items = int(net.item_embedding.num_embeddings) - 1
    ranks = []
    with torch.no_grad():
        for start in range(0, len(targets), batch_size):
            stop = min(start + batch_size, len(targets))
            tokens = torch.from_numpy(inputs[start:stop]).to(device)
            scores = net.next_item_scores(trim_padding(tokens)).float().cpu().numpy()
            batch_seen = seen[start:stop]
            rows = np.repeat(np.arange(stop - start), [items.size for items in batch_seen])
            columns = np.concatenate(batch_seen) if batch_seen else np.zeros(0, np.int64)
            excluded = sp.csr_matrix(
                (np.ones(rows.size, bool), (rows, columns)), shape=(stop - start, n_items)
            )
            ranks.append(target_ranks(scores, targets[start:stop], rng, excluded))
    all_ranks = np.concatenate(ranks) if ranks else np.zeros(0, np.int64)
    return single_target_metrics(all_ranks, ks=(k,)).get(f"NDCG@{k}", 0.0)
