"""ItemKNN: similarity formulas by hand, pruning, weighting and bought-together baskets."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.models import ItemKNN
from shopsense.models.item_knn import keep_top_per_row


def data_from(sequences: list[list[int]]) -> InteractionData:
    """Shopper ``u<k>`` has the k-th list; item ``"i"`` has index ``i``."""
    return InteractionData.from_sequences(
        {f"u{k}": [str(i) for i in s] for k, s in enumerate(sequences)},
        items=[str(i) for i in range(5)],
    )


SEQUENCES = [[0, 1], [0, 1, 2], [0, 2], [3, 4], [1, 3]]


def hand_cooccurrence() -> np.ndarray:
    x = np.zeros((5, 5))
    for row, items in enumerate(SEQUENCES):
        x[row, items] = 1
    return x.T @ x


def test_cosine_matches_the_formula() -> None:
    data = data_from(SEQUENCES)
    model = ItemKNN(neighbors=0, similarity="cosine", shrink=0.0).fit(data)
    c = hand_cooccurrence()
    n = np.diag(c)
    expected = c / np.sqrt(np.outer(n, n))
    np.fill_diagonal(expected, 0.0)
    ids = [data.items.index(str(i)) for i in range(5)]
    got = model.similarity_.toarray()[np.ix_(ids, ids)]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_asymmetric_cosine_with_alpha_one_is_conditional_probability() -> None:
    data = data_from(SEQUENCES)
    model = ItemKNN(neighbors=0, similarity="asymmetric_cosine", alpha=1.0, shrink=0.0).fit(data)
    c = hand_cooccurrence()
    ids = [data.items.index(str(i)) for i in range(5)]
    got = model.similarity_.toarray()[np.ix_(ids, ids)]
    # S[i, j] = c_ij / n_i: the share of i's shoppers who also have j.
    assert got[0, 1] == pytest.approx(c[0, 1] / c[0, 0])
    assert got[1, 0] == pytest.approx(c[0, 1] / c[1, 1])


def test_neighbours_are_pruned_per_item() -> None:
    model = ItemKNN(neighbors=1).fit(data_from(SEQUENCES))
    assert np.diff(model.similarity_.indptr).max() == 1


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.floats(0.1, 10.0), min_size=4, max_size=4), min_size=1, max_size=6),
    st.integers(0, 5),
)
def test_keep_top_per_row_keeps_the_largest(rows: list[list[float]], k: int) -> None:
    dense = np.array(rows, np.float32)
    kept = keep_top_per_row(sp.csr_matrix(dense), k).toarray()
    for original, pruned in zip(dense, kept, strict=True):
        chosen = np.flatnonzero(pruned)
        assert chosen.size == min(k, 4)
        if chosen.size:
            assert pruned[chosen].min() >= np.sort(original)[::-1][chosen.size - 1]


def test_bm25_weighting_changes_scores_but_keeps_the_known_answer() -> None:
    data = data_from([*SEQUENCES, [0, 1, 2, 3, 4]])
    plain = ItemKNN(neighbors=0).fit(data)
    bm25 = ItemKNN(neighbors=0, weighting="bm25").fit(data)
    assert not np.allclose(plain.similarity_.toarray(), bm25.similarity_.toarray())


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ModelError, match="similarity"):
        ItemKNN(similarity="jaccard").fit(data_from(SEQUENCES))
    with pytest.raises(ModelError, match="weighting"):
        ItemKNN(weighting="tfidf").fit(data_from(SEQUENCES))


def test_bought_together_from_baskets() -> None:
    baskets = data_from([[0, 1], [0, 1], [0, 2], [3, 4]])
    together = ItemKNN(similarity="cooccurrence").fit(baskets)
    items, scores = together.similar_items("0", n=2)
    assert list(items) == ["1", "2"]
    assert scores[0] == pytest.approx(2.0, rel=1e-3)
