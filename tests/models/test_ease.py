"""EASE^R: the closed form against a direct solve, the zero diagonal, and its limits."""

from __future__ import annotations

import numpy as np
import pytest

from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.models import EASE
from shopsense.models.ease import ease_weights


def test_weights_solve_the_constrained_least_squares() -> None:
    rng = np.random.default_rng(0)
    x = (rng.random((40, 7)) < 0.3).astype(np.float64)
    l2 = 3.0
    b = ease_weights(x.T @ x, l2).astype(np.float64)
    assert np.allclose(np.diag(b), 0.0)
    # Column j: minimise ||x_j - X_{-j} b_{-j}||² + λ||b_{-j}||², a ridge regression.
    for j in range(7):
        others = [i for i in range(7) if i != j]
        a = x[:, others]
        ridge = np.linalg.solve(a.T @ a + l2 * np.eye(6), a.T @ x[:, j])
        np.testing.assert_allclose(b[others, j], ridge, rtol=1e-4, atol=1e-5)


def test_catalog_limit_and_bad_l2() -> None:
    data = InteractionData.from_sequences({"a": list("01234"), "b": list("012")})
    with pytest.raises(ModelError, match="max_items"):
        EASE(max_items=3).fit(data)
    with pytest.raises(ModelError, match="l2"):
        EASE(l2=0.0).fit(data)


def test_weights_are_c_ordered_after_fit_and_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Regression: LAPACK's Fortran-ordered B made scipy copy the whole n_items^2 matrix in
    # every sparse @ dense product, about a second per recommend() on Beauty's 12k items.
    from shopsense.models import load_model

    data = InteractionData.from_sequences({"a": list("01234"), "b": list("0125"), "c": list("34")})
    model = EASE(l2=1.0).fit(data)
    assert model.weights_.flags.c_contiguous
    model.save(tmp_path / "ease")
    loaded = load_model(tmp_path / "ease")
    assert loaded.weights_.flags.c_contiguous  # type: ignore[attr-defined]
    assert loaded.recommend("a", n=2) == model.recommend("a", n=2)
