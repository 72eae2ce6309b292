"""Item-embedding maps: what a model learned about products, drawn in two dimensions.

A model that embeds items (:meth:`~shopsense.models.base.Recommender.item_embeddings`: ALS,
BPR, the item tower, SASRec) places similar products near each other. The map projects a
sample of its item vectors to 2-D twice, with PCA (linear: the two directions of largest
variance of the vectors scaled to unit length, as the cosine similarity sees them, and
the share of variance they hold) and with t-SNE (non-linear: neighbourhoods
kept, distances between clusters not meaningful), and colours each product by a label: its
top category where the catalog has one, else its popularity band.

A picture can flatter, so the map carries a number too, measured in the full
dimensions rather than on the picture: the **nearest-neighbour agreement**, the share of
the sampled products whose most similar product (cosine, among all products with a
vector) has the same label, against the share a random other product would have (chance).
Vectors that separate categories well score far above chance; random vectors score at
chance.

Example::

    >>> import numpy as np
    >>> vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], np.float32)
    >>> m = embedding_map("toy", vectors, ["a", "b", "c", "d"], ["x", "x", "y", "y"],
    ...                   "top category", tsne=False)
    >>> m.neighbour_same, round(m.chance_same, 3)   # every neighbour agrees; chance 1/3
    (1.0, 0.333)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from shopsense.errors import ConfigError

FloatArray = npt.NDArray[np.float32]
#: Products drawn in a map (and asked for their nearest neighbour): enough to see clusters,
#: few enough for t-SNE in seconds on two cores.
DEFAULT_SAMPLE = 1000
#: Label of products with no category.
NO_LABEL = "(none)"
#: Rows of the nearest-neighbour search done at once (memory: rows x products floats).
_CHUNK = 256


@dataclass(frozen=True)
class EmbeddingMap:
    """One model's map: the sampled products, their labels and 2-D positions."""

    model: str
    item_ids: list[str]
    labels: list[str]
    #: What the labels are: ``"top category"`` or ``"popularity"``.
    label_kind: str
    #: ``(n, 2)`` PCA coordinates, and the share of the variance each axis holds.
    pca: FloatArray
    explained: tuple[float, float]
    #: ``(n, 2)`` t-SNE coordinates (``None`` when not computed).
    tsne: FloatArray | None
    #: Share of the sampled products whose nearest neighbour has the same label.
    neighbour_same: float
    #: The same share for a random other product (the expectation, exactly).
    chance_same: float
    #: Products the model knows, and those it has no vector for (all zeros: never engaged
    #: with, nothing learned), which are left out of the map.
    items_total: int
    items_without_vector: int

    @property
    def lift(self) -> float:
        """``neighbour_same / chance_same`` (1: no better than chance)."""
        return self.neighbour_same / self.chance_same if self.chance_same else float("nan")

    def summary(self) -> dict[str, Any]:
        """The map's figures without its coordinates (for results files)."""
        return {
            "model": self.model,
            "label_kind": self.label_kind,
            "items_mapped": len(self.item_ids),
            "items_total": self.items_total,
            "items_without_vector": self.items_without_vector,
            "pca_explained": [round(v, 4) for v in self.explained],
            "neighbour_same_label": round(self.neighbour_same, 4),
            "chance_same_label": round(self.chance_same, 4),
            "lift": round(self.lift, 3),
        }

    def top_labels(self, most: int = 8) -> list[str]:
        """The ``most`` commonest labels in the map (the rest are drawn as "other"); for
        popularity, the bands in order, most popular first."""
        common = [label for label, _ in Counter(self.labels).most_common(most)]
        if self.label_kind == "popularity":
            common.sort(key=_band_order)
        return common


def embedding_map(
    model: str,
    vectors: npt.ArrayLike,
    item_ids: Sequence[str],
    labels: Sequence[str],
    label_kind: str,
    *,
    sample: int = DEFAULT_SAMPLE,
    tsne: bool = True,
    seed: int = 0,
) -> EmbeddingMap:
    """The map of ``vectors`` ``(n_items, d)`` (row ``i``: ``item_ids[i]``, labelled
    ``labels[i]``) over at most ``sample`` products drawn at random (seeded)."""
    x = np.asarray(vectors, np.float32)
    if x.ndim != 2 or x.shape[0] != len(item_ids) or len(labels) != len(item_ids):
        raise ValueError(
            f"vectors {x.shape}, {len(item_ids)} item ids and {len(labels)} labels disagree"
        )
    names = [label or NO_LABEL for label in labels]
    norms = np.linalg.norm(x, axis=1)
    usable = np.flatnonzero(np.isfinite(norms) & (norms > 0))
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(usable, size=min(sample, usable.size), replace=False))
    same, chance = _neighbour_agreement(x[usable] / norms[usable, None], usable, chosen, names)
    coords, explained = _pca(x[chosen] / norms[chosen, None])
    return EmbeddingMap(
        model=model,
        item_ids=[item_ids[i] for i in chosen],
        labels=[names[i] for i in chosen],
        label_kind=label_kind,
        pca=coords,
        explained=explained,
        tsne=_tsne(x[chosen], seed) if tsne else None,
        neighbour_same=same,
        chance_same=chance,
        items_total=len(item_ids),
        items_without_vector=len(item_ids) - int(usable.size),
    )


def view_box(coords: npt.ArrayLike, keep: float = 0.96) -> tuple[FloatArray, FloatArray]:
    """The ``(low, high)`` corners (each ``(2,)``) of the box that holds the middle ``keep``
    of the points on each axis: a few outliers would otherwise squeeze the rest of a
    projection into a corner of the picture."""
    points = np.asarray(coords, np.float64).reshape(-1, 2)
    if len(points) == 0:
        return np.zeros(2, np.float32), np.ones(2, np.float32)
    tail = 100 * (1 - keep) / 2
    low, high = np.percentile(points, [tail, 100 - tail], axis=0)
    return low.astype(np.float32), high.astype(np.float32)


def popularity_labels(popularity: npt.ArrayLike, bands: int = 5) -> list[str]:
    """A label per item from its popularity: ``bands`` equal-count bands, most popular
    first ("top 20%", "20-40%", ...); items never engaged with are "never engaged"."""
    counts = np.asarray(popularity, np.float64)
    engaged = np.flatnonzero(counts > 0)
    out = ["never engaged"] * counts.size
    if engaged.size == 0:
        return out
    order = engaged[np.argsort(-counts[engaged], kind="stable")]
    width = 100 // bands
    for rank, item in enumerate(order):
        band = min(rank * bands // order.size, bands - 1)
        low, high = band * width, (band + 1) * width if band < bands - 1 else 100
        out[int(item)] = f"top {high}%" if band == 0 else f"{low}-{high}%"
    return out


def _band_order(band: str) -> tuple[int, int]:
    """Sort key of :func:`popularity_labels`' bands: "top x%", then "a-b%" by ``a``, then
    "never engaged"."""
    if band.startswith("top"):
        return 0, 0
    if "-" in band:
        return 1, int(band.split("-")[0])
    return 2, 0


def _neighbour_agreement(
    unit: FloatArray, usable: npt.NDArray[np.int64], chosen: npt.NDArray[np.int64], names: list[str]
) -> tuple[float, float]:
    """(share of ``chosen`` whose nearest other usable item has the same label, the
    expected share for a uniformly random other usable item)."""
    if chosen.size == 0 or usable.size < 2:
        return 0.0, 0.0
    position = np.searchsorted(usable, chosen)
    usable_labels = [names[i] for i in usable]
    counts = Counter(usable_labels)
    agree = 0
    for start in range(0, chosen.size, _CHUNK):
        rows = position[start : start + _CHUNK]
        similarity = unit[rows] @ unit.T
        similarity[np.arange(rows.size), rows] = -np.inf  # not itself
        nearest = similarity.argmax(axis=1)
        pairs = zip(nearest, rows, strict=True)
        agree += sum(usable_labels[n] == usable_labels[r] for n, r in pairs)
    chance = np.mean([(counts[usable_labels[r]] - 1) / (usable.size - 1) for r in position])
    return agree / chosen.size, float(chance)


def _pca(x: FloatArray) -> tuple[FloatArray, tuple[float, float]]:
    """2-D PCA coordinates and each axis's share of the variance (signs fixed: each axis's
    largest loading is positive, so the same vectors give the same picture)."""
    if x.shape[0] < 2:
        return np.zeros((x.shape[0], 2), np.float32), (0.0, 0.0)
    centred = x.astype(np.float64) - x.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, s.size)
    signs = np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(axis=1)])
    coords = np.zeros((x.shape[0], 2))
    coords[:, :k] = u[:, :k] * s[:k] * signs
    total = float((s**2).sum()) or 1.0
    shares = [float(v) / total for v in s[:k] ** 2] + [0.0] * (2 - k)
    return coords.astype(np.float32), (shares[0], shares[1])


def _tsne(x: FloatArray, seed: int) -> FloatArray | None:
    """2-D t-SNE (scikit-learn, cosine distances, seeded); ``None`` under 5 products."""
    if x.shape[0] < 5:
        return None
    try:
        from sklearn.manifold import TSNE
    except ImportError as exc:
        raise ConfigError(
            "the t-SNE map needs scikit-learn, which is not installed: "
            "pip install 'shopsense[report]'"
        ) from exc
    perplexity = min(30.0, (x.shape[0] - 1) / 3)
    projected = TSNE(
        n_components=2, perplexity=perplexity, metric="cosine", init="pca", random_state=seed
    ).fit_transform(x.astype(np.float64))
    return np.asarray(projected, np.float32)
