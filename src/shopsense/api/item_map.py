"""The serving bundle's item-embedding maps, for the dashboard: inline SVG, no JavaScript.

Every model of the serving bundle that embeds items (the stack's ALS and item tower, a
bundle's own ALS or SASRec) gets one map (:mod:`shopsense.evaluation.embedding_map`): a
sample of products, their item vectors projected to 2-D by PCA, coloured by top category,
with the nearest-neighbour agreement against chance. Hovering a point names the product.
PCA only: t-SNE takes seconds, too long for a page (``shopsense evaluate --report`` draws
both). Maps are computed on the first view of a bundle and kept while it serves.

Example::

    >>> maps = serving_maps(engine.models, catalog)       # doctest: +SKIP
    >>> svg = map_svg(maps[0], catalog)                   # doctest: +SKIP
"""

from __future__ import annotations

import threading
from html import escape

import numpy as np
from cachetools import LRUCache
from markupsafe import Markup

from shopsense.evaluation.embedding_map import EmbeddingMap, embedding_map, view_box
from shopsense.models.base import FloatArray, Recommender
from shopsense.recommend.catalog import CatalogView, top_category
from shopsense.recommend.models import ModelSet

#: Products drawn per map (each is an SVG circle with its title: about 150 bytes).
SAMPLE = 500
WIDTH, HEIGHT, LEGEND = 640, 400, 170
MARGIN = 12
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
OTHER = "#bbbbbb"

_lock = threading.Lock()
#: bundle id -> (the model set the maps were made from, its maps)
_maps: LRUCache[str, tuple[ModelSet, list[EmbeddingMap]]] = LRUCache(maxsize=4)


def serving_maps(models: ModelSet, catalog: CatalogView) -> list[EmbeddingMap]:
    """The maps of ``models``' item-embedding models (computed once per model set)."""
    with _lock:
        kept = _maps.get(models.bundle_id)
    if kept is not None and kept[0] is models:
        return kept[1]
    maps = []
    for name, model, vectors in _embedding_models(models):
        ids = model.items_.to_list()
        labels = [top_category(catalog.get(i)) for i in ids]
        maps.append(
            embedding_map(name, vectors, ids, labels, "top category", sample=SAMPLE, tsne=False)
        )
    with _lock:
        _maps[models.bundle_id] = (models, maps)
    return maps


def _embedding_models(models: ModelSet) -> list[tuple[str, Recommender, FloatArray]]:
    """``(name, model, item vectors)`` of each distinct model that embeds items: the
    stack's sources (named ``stack/<source>``), then the bundle's own models."""
    found: list[tuple[str, Recommender]] = []
    if models.stack is not None:
        found += [(f"stack/{n}", m) for n, m in models.stack.sources.models.items()]
    found += list(models.models.items())
    seen: set[int] = set()
    out = []
    for name, model in found:
        vectors = model.item_embeddings() if id(model) not in seen else None
        if vectors is not None:
            seen.add(id(model))
            out.append((name, model, vectors))
    return out


def map_svg(drawn: EmbeddingMap, catalog: CatalogView) -> Markup:
    """One map as an SVG scatter: a colour per common top category, the rest grey, and a
    legend; each point's tooltip is the product's title and category."""
    top = drawn.top_labels(len(PALETTE))
    colour = dict(zip(top, PALETTE, strict=False))
    coords = np.asarray(drawn.pca, np.float64).reshape(-1, 2)
    low, high = view_box(coords)
    span = np.where(high - low > 0, high - low, 1.0)
    coords = np.clip(coords, low, high)  # the few outliers sit on the edge
    inner_w, inner_h = WIDTH - LEGEND - 2 * MARGIN, HEIGHT - 2 * MARGIN
    points = []
    # grey first, so the coloured categories are drawn on top
    order = sorted(range(len(drawn.item_ids)), key=lambda k: drawn.labels[k] in colour)
    for k in order:
        x = MARGIN + inner_w * (coords[k, 0] - low[0]) / span[0]
        y = MARGIN + inner_h * (1 - (coords[k, 1] - low[1]) / span[1])
        item, label = drawn.item_ids[k], drawn.labels[k]
        product = catalog.get(item)
        title = product.title if product is not None else item
        points.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{colour.get(label, OTHER)}"'
            f' data-item="{escape(item)}"><title>{escape(title)} ({escape(label)})</title>'
            "</circle>"
        )
    legend = []
    entries = [*top, "other"] if any(label not in colour for label in drawn.labels) else top
    for row, label in enumerate(entries):
        y = MARGIN + 14 + 16 * row
        fill = colour.get(label, OTHER)
        legend.append(
            f'<circle cx="{WIDTH - LEGEND + 10}" cy="{y - 4}" r="5" fill="{fill}"/>'
            f'<text class="legend" x="{WIDTH - LEGEND + 20}" y="{y}">{escape(label[:24])}</text>'
        )
    title = f"Item map of {drawn.model}: {len(drawn.item_ids)} products, PCA, by top category"
    return Markup(
        f'<svg class="chart item-map" role="img" aria-label="{escape(title)}"'
        f' data-model="{escape(drawn.model)}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}"'
        f' height="{HEIGHT}"><title>{escape(title)}</title>'
        f'<rect class="frame" x="1" y="1" width="{WIDTH - LEGEND - 2}" height="{HEIGHT - 2}"'
        ' fill="none" stroke="#ddd"/>'
        f"{''.join(points)}{''.join(legend)}</svg>"
    )
