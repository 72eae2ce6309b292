"""EASE^R (Steck 2019): a linear item-item model with a closed-form solution.

Learns the item-item weights ``B`` that best rebuild the interaction matrix ``X`` from
itself, ``min ||X - XB||² + λ||B||²`` with ``diag(B) = 0`` (an item may not predict
itself), solved in closed form::

    P = (XᵀX + λI)⁻¹,    B = I - P · diag(1 / diag(P))    (then diag(B) = 0)

and scores a shopper's history row ``x`` as ``x @ B``. Strong on shop data and with one
hyper-parameter, but ``B`` is dense ``(n_items, n_items)``: memory grows with the square
of the catalog (12k items: 0.6 GB in float32; 40k: 6.4 GB) and fitting with its cube.
``max_items`` refuses catalogs too large for that; use :class:`ItemKNN` for those.

Example::

    >>> model = EASE(l2=500.0).fit(data)                           # doctest: +SKIP
    >>> model.recommend("U0001", n=10)                             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.linalg
import scipy.sparse as sp

from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.models.base import FloatArray, Histories, Recommender, interaction_input


def ease_weights(gram: npt.NDArray[Any], l2: float) -> FloatArray:
    """``B`` from the Gram matrix ``XᵀX`` ``(n, n)``: ``I - P diag(1/diag(P))``, zero diagonal.

    Works in ``gram``'s precision on one copy of it: ``XᵀX + λI`` is symmetric positive
    definite for ``λ > 0``, so LAPACK inverts it in place from its Cholesky factor.
    """
    a = np.array(gram, copy=True, order="F")
    a[np.diag_indices_from(a)] += l2
    potrf, potri = scipy.linalg.lapack.get_lapack_funcs(("potrf", "potri"), (a,))
    factor, info = potrf(a, lower=True, overwrite_a=True, clean=False)
    if info == 0:
        p, info = potri(factor, lower=True, overwrite_c=True)
    if info != 0:
        raise ModelError(f"EASE could not invert XᵀX + λI (LAPACK info {info}); raise l2")
    # potri fills the lower triangle only: mirror it, a block of rows at a time.
    n = p.shape[0]
    for start in range(0, n, 2048):
        stop = min(start + 2048, n)
        block = p[start:stop, start:stop]
        p[start:stop, start:stop] = np.tril(block) + np.tril(block, -1).T
        p[start:stop, stop:] = p[stop:, start:stop].T
    p /= -np.diag(p)[None, :]
    p[np.diag_indices_from(p)] = 0.0
    return np.asarray(p, dtype=np.float32)


@dataclasses.dataclass(eq=False)
class EASE(Recommender):
    """Embarrassingly shallow autoencoder: dense item-item weights in closed form."""

    name: ClassVar[str] = "ease"

    #: L2 regularisation λ (Steck: 500 on ML-20M). The default is the value chosen on
    #: validation across the datasets we ship (benchmarks/default_study.py).
    l2: float = 41.6
    #: Count each (shopper, item) once; ``False`` uses the summed event weights.
    binary: bool = True
    #: Largest catalog to fit: ``B`` takes ``4 * n_items²`` bytes, fitting about 3 times that.
    max_items: int = 40_000
    #: Solve in float64 (twice the memory); float32 is accurate enough for λ >= ~1.
    double_precision: bool = False

    weights_: FloatArray = dataclasses.field(init=False, repr=False)

    def half_precision_state(self) -> frozenset[str]:
        return frozenset({"weights_"})

    def _input(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        return interaction_input(matrix, self.binary)

    def _fit(self, data: InteractionData) -> None:
        n = data.n_items
        if n > self.max_items:
            gigabytes = 3 * 4 * n * n / 1e9
            raise ModelError(
                f"EASE needs dense {n:,} x {n:,} matrices (about {gigabytes:.1f} GB to fit) "
                f"and max_items is {self.max_items:,}; raise max_items if the machine has "
                "the memory, keep only the most popular items, or use ItemKNN"
            )
        if self.l2 <= 0:
            raise ModelError(f"EASE l2 must be > 0 for a unique solution, got {self.l2}")
        x = self._input(data.matrix)
        dtype = np.float64 if self.double_precision else np.float32
        gram = np.asarray((x.T @ x).toarray(), dtype=dtype)
        # C order: LAPACK hands back Fortran order, and scipy's sparse @ dense then copies
        # the whole n_items^2 matrix on every call (a second per recommend() on Beauty).
        self.weights_ = np.ascontiguousarray(ease_weights(gram, self.l2))

    def _score(self, histories: Histories) -> FloatArray:
        """``history (b, n_items) @ B (n_items, n_items)``, a sparse-dense product."""
        scores: FloatArray = np.asarray(
            self._input(histories.matrix) @ self.weights_, dtype=np.float32
        )
        return scores

    def _item_scores(self, item: int) -> FloatArray:
        scores: FloatArray = self.weights_[item]
        return scores

    def _state(self) -> dict[str, npt.NDArray[Any]]:
        return {"weights_": self.weights_}

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]]) -> None:
        self.weights_ = np.ascontiguousarray(arrays["weights_"])
