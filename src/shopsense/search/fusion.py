"""Fusing lexical and semantic evidence into one relevance score.

Two ways, both over the same candidate set:

- reciprocal rank fusion (Cormack et al. 2009): ``sum 1 / (k + rank)`` over the lists a
  candidate appears in; needs no score calibration;
- weighted fusion: ``w * bm25 / max(bm25) + (1 - w) * cosine``; ``w`` is tuned on
  judged queries (see :func:`shopsense.search.evaluation`).

Example::

    >>> rrf([np.array([3.0, 1.0, 0.0]), np.array([0.2, 0.9, 0.5])], k=60).round(4)
    array([0.0323, 0.0325, 0.032 ], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.float32]


def ranks(scores: npt.NDArray[np.floating], present: npt.NDArray[np.bool_] | None = None) -> Scores:
    """1-based rank of each entry by descending score (ties share order of appearance);
    entries not ``present`` get rank ``inf``."""
    order = np.argsort(-scores, kind="stable")
    result = np.empty(len(scores), np.float32)
    result[order] = np.arange(1, len(scores) + 1, dtype=np.float32)
    if present is not None:
        result[~present] = np.inf
    return result


def rrf(
    lists: Sequence[npt.NDArray[np.floating]],
    k: float = 60.0,
    present: Sequence[npt.NDArray[np.bool_]] | None = None,
) -> Scores:
    """Reciprocal rank fusion of score arrays over the same candidates (shape ``(n,)`` each);
    ``present[i]`` marks the candidates list ``i`` actually retrieved (others add nothing)."""
    total = np.zeros(len(lists[0]), np.float32)
    for i, scores in enumerate(lists):
        mask = None if present is None else present[i]
        total += 1.0 / (k + ranks(scores, mask))
    return total


def weighted(bm25: npt.NDArray[np.floating], cosine: npt.NDArray[np.floating], w: float) -> Scores:
    """``w * bm25 / max(bm25) + (1 - w) * cosine`` (shape ``(n,)``); BM25 is scaled per query
    because its range depends on the query, cosine is already on a fixed scale."""
    top = float(np.max(bm25)) if len(bm25) else 0.0
    lexical = bm25 / top if top > 0 else np.zeros_like(bm25)
    return (w * lexical + (1.0 - w) * cosine).astype(np.float32)
