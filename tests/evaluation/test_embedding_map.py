"""Item-embedding maps: known answers for the nearest-neighbour figure, PCA and bands."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsense.evaluation.embedding_map import (
    NO_LABEL,
    embedding_map,
    popularity_labels,
    view_box,
)


def clustered(per: int = 30, seed: int = 0) -> tuple[np.ndarray, list[str], list[str]]:
    """Three tight clusters far apart, labelled by cluster."""
    rng = np.random.default_rng(seed)
    centres = np.eye(3, 8) * 10
    vectors = np.concatenate([c + rng.normal(0, 0.1, (per, 8)) for c in centres])
    labels = [name for name in "abc" for _ in range(per)]
    return vectors.astype(np.float32), [f"i{k}" for k in range(3 * per)], labels


def test_vectors_that_separate_the_labels_agree_fully_and_chance_is_exact() -> None:
    vectors, ids, labels = clustered()
    m = embedding_map("toy", vectors, ids, labels, "top category", tsne=False)
    assert m.neighbour_same == 1.0
    assert m.chance_same == pytest.approx(29 / 89)  # another of the 29 in its own cluster
    assert m.lift == pytest.approx(89 / 29)
    assert len(m.item_ids) == 90 and m.pca.shape == (90, 2)
    # the first two axes hold nearly all the variance of three clusters
    assert sum(m.explained) > 0.95


def test_random_labels_score_near_chance() -> None:
    vectors, ids, _ = clustered(per=100)
    rng = np.random.default_rng(1)
    labels = list(rng.choice(["a", "b", "c"], size=len(ids)))
    m = embedding_map("toy", vectors, ids, labels, "top category", tsne=False)
    assert abs(m.neighbour_same - m.chance_same) < 0.1


def test_items_without_a_vector_are_left_out_and_counted() -> None:
    vectors, ids, labels = clustered(per=10)
    vectors[:4] = 0.0
    m = embedding_map("toy", vectors, ids, labels, "top category", tsne=False)
    assert m.items_without_vector == 4 and m.items_total == 30
    assert not set(m.item_ids) & {"i0", "i1", "i2", "i3"}
    # chance counts only products that can be a neighbour: 6 "a" left of 26
    a_rows = [label == "a" for label in m.labels]
    expected = np.mean([(5 if a else 9) / 25 for a in a_rows])
    assert m.chance_same == pytest.approx(expected)


def test_the_sample_is_seeded_and_capped() -> None:
    vectors, ids, labels = clustered(per=50)
    one = embedding_map("toy", vectors, ids, labels, "top category", sample=40, tsne=False)
    two = embedding_map("toy", vectors, ids, labels, "top category", sample=40, tsne=False)
    assert len(one.item_ids) == 40 and one.item_ids == two.item_ids
    np.testing.assert_array_equal(one.pca, two.pca)


def test_blank_labels_are_named_and_the_summary_has_no_coordinates() -> None:
    vectors, ids, _ = clustered(per=5)
    m = embedding_map("toy", vectors, ids, [""] * len(ids), "top category", tsne=False)
    assert set(m.labels) == {NO_LABEL}
    summary = m.summary()
    assert summary["items_mapped"] == 15 and "pca" not in summary
    assert m.top_labels() == [NO_LABEL]


def test_tsne_places_the_clusters_apart() -> None:
    pytest.importorskip("sklearn")
    vectors, ids, labels = clustered(per=20)
    m = embedding_map("toy", vectors, ids, labels, "top category", tsne=True)
    assert m.tsne is not None and m.tsne.shape == (60, 2)
    names = np.array(m.labels)
    centres = {c: m.tsne[names == c].mean(axis=0) for c in "abc"}
    spread = max(np.linalg.norm(m.tsne[names == c] - centres[c], axis=1).mean() for c in "abc")
    gap = min(np.linalg.norm(centres[a] - centres[b]) for a, b in ("ab", "bc", "ac"))
    assert gap > 2 * spread


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="disagree"):
        embedding_map("toy", np.ones((3, 2)), ["a", "b"], ["x", "y"], "top category")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=60))
def test_popularity_bands_are_ordered_by_popularity(counts: list[int]) -> None:
    labels = popularity_labels(counts)
    order = ["top 20%", "20-40%", "40-60%", "60-80%", "80-100%"]
    assert len(labels) == len(counts)
    for count, label in zip(counts, labels, strict=True):
        assert (label == "never engaged") == (count == 0)
    engaged = [(c, order.index(label)) for c, label in zip(counts, labels, strict=True) if c]
    for c1, b1 in engaged:  # a more popular item is never in a lower band
        assert all(b1 <= b2 for c2, b2 in engaged if c2 < c1)


def test_popularity_bands_are_listed_most_popular_first() -> None:
    vectors, ids, _ = clustered(per=20)
    counts = np.arange(len(ids)) % 7  # some never engaged
    m = embedding_map("toy", vectors, ids, popularity_labels(counts), "popularity", tsne=False)
    assert m.top_labels() == ["top 20%", "20-40%", "40-60%", "60-80%", "80-100%", "never engaged"]


def test_pca_sees_directions_not_lengths() -> None:
    """Two directions, lengths from 1 to 100: the map separates the directions (cosine's
    view), where PCA of the raw vectors would spread the items by length."""
    lengths = np.linspace(1, 100, 40)
    vectors = np.concatenate([np.outer(lengths, [1, 0.1]), np.outer(lengths, [0.1, 1])])
    labels = ["x"] * 40 + ["y"] * 40
    m = embedding_map("toy", vectors, [f"i{k}" for k in range(80)], labels, "top category",
                      tsne=False)  # fmt: skip
    first = m.pca[:, 0]
    names = np.array(m.labels)
    assert np.ptp(first[names == "x"]) < 1e-3 and np.ptp(first[names == "y"]) < 1e-3


def test_the_view_box_holds_the_middle_of_the_points() -> None:
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 1, (992, 2)), np.full((8, 2), 1000.0)])
    low, high = view_box(points)
    assert (high < 10).all() and (low > -10).all()  # a few outliers do not stretch it
    inside = ((points >= low) & (points <= high)).all(axis=1).mean()
    assert 0.9 <= inside <= 0.97
    empty_low, empty_high = view_box(np.zeros((0, 2)))
    assert (empty_low < empty_high).all()
