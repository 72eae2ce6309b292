"""Item feature vectors ``x_j`` for the item tower: text embedding plus catalog tokens.

``x_j = [text_j, tokens_j]``: ``text_j`` is the product's MiniLM embedding (384-d, from
:mod:`shopsense.features.text`); ``tokens_j`` is a multi-hot row over a vocabulary of
catalog tokens: every level of the category path (``category:Home``,
``category:Home > Kitchen``, ...), the brand, each attribute ``name=value`` (comma lists
split), and a price bucket (catalog price quantiles, one more bucket for "no price").

:class:`ItemFeatureSpace` is the fitted vocabulary, so products added after training map
to the same columns (unknown tokens are dropped, an unseen brand simply has no brand
token). It saves to plain arrays (npz, no pickle).

Example::

    >>> from shopsense.domain import Product
    >>> products = [Product(id="p1", title="Chef knife", brand="Kuro", price=40,
    ...                     category="Home > Kitchen > Knives"),
    ...             Product(id="p2", title="Paring knife", brand="Kuro", price=12,
    ...                     category="Home > Kitchen > Knives")]
    >>> space = ItemFeatureSpace.fit(products, min_count=1, price_buckets=2)
    >>> features = space.transform(products)          # no encoder: tokens only
    >>> features.tokens.shape, features.text.shape
    ((2, 6), (2, 0))
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.domain import CATEGORY_SEPARATOR, Product
from shopsense.errors import ConfigError

if TYPE_CHECKING:
    from shopsense.features.text import TextEncoder

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ItemFeatures:
    """Features of ``n`` items in one order (usually the training data's item order).

    ``text``: ``(n, d_text)`` float32 (``d_text`` is 0 without text);
    ``tokens``: CSR ``(n, n_tokens)`` float32, 1 where the item has the token.
    """

    text: FloatArray
    tokens: sp.csr_matrix

    def __post_init__(self) -> None:
        if self.text.ndim != 2 or self.text.shape[0] != self.tokens.shape[0]:
            raise ConfigError(
                f"item features disagree: text {self.text.shape} vs tokens {self.tokens.shape};"
                " both need one row per item"
            )

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def text_dim(self) -> int:
        return int(self.text.shape[1])

    @property
    def n_tokens(self) -> int:
        return int(self.tokens.shape[1])

    @classmethod
    def identity(cls, n_items: int) -> ItemFeatures:
        """One token per item and no text: the tower learns an id embedding per item."""
        return cls(np.zeros((n_items, 0), np.float32), sp.identity(n_items, np.float32, "csr"))

    def bags(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray]:
        """Token rows as ``EmbeddingBag`` input: (indices, offsets ``(n,)``, weights).

        Every bag ends with one extra token, index ``n_tokens`` with weight 1: the tower's
        bias ``b1``, so an item with no known token still gets a bag.
        """
        tokens = self.tokens.tocsr()
        counts = np.diff(tokens.indptr).astype(np.int64) + 1
        offsets = (np.cumsum(counts) - counts).astype(np.int64)
        indices = np.full(int(counts.sum()), self.n_tokens, np.int64)
        weights = np.ones(indices.size, np.float32)
        inner = np.ones(indices.size, bool)
        inner[offsets + counts - 1] = False
        indices[inner] = tokens.indices
        weights[inner] = tokens.data
        return indices, offsets, weights

    def rows(self, index: npt.NDArray[np.int64]) -> ItemFeatures:
        """The features of items ``index`` (in that order)."""
        return ItemFeatures(self.text[index], self.tokens[index])


class ItemFeatureSpace:
    """The catalog vocabulary (category levels, brands, attributes, price buckets).

    ``min_count``: tokens carried by fewer products are dropped (they cannot generalise).
    """

    def __init__(self, vocabulary: Sequence[str], price_edges: npt.ArrayLike) -> None:
        self.vocabulary = list(vocabulary)
        self.price_edges = np.asarray(price_edges, np.float64)
        self._index = {token: i for i, token in enumerate(self.vocabulary)}

    def __len__(self) -> int:
        return len(self.vocabulary)

    @classmethod
    def fit(
        cls, products: Sequence[Product], min_count: int = 2, price_buckets: int = 10
    ) -> ItemFeatureSpace:
        """Learn the vocabulary and price-bucket edges from a catalog."""
        prices = np.array([p.price for p in products if p.price is not None], np.float64)
        edges: npt.NDArray[np.float64] = np.empty(0)
        if prices.size and price_buckets > 1:
            quantiles = np.linspace(0, 1, price_buckets + 1)[1:-1]
            edges = np.unique(np.quantile(np.log1p(prices), quantiles))
        space = cls([], edges)
        counts = Counter(token for p in products for token in set(space.product_tokens(p)))
        vocabulary = sorted(t for t, c in counts.items() if c >= min_count)
        return cls(vocabulary, edges)

    def product_tokens(self, product: Product) -> list[str]:
        """Every catalog token of one product (before the vocabulary filter)."""
        tokens = [
            "category:" + CATEGORY_SEPARATOR.join(product.category[: level + 1])
            for level in range(len(product.category))
        ]
        if product.brand:
            tokens.append("brand:" + product.brand.lower())
        for name, value in product.attributes.items():
            for part in str(value).split(","):
                if part.strip():
                    tokens.append(f"attr:{name.lower()}={part.strip().lower()}")
        if product.price is None:
            tokens.append("price:none")
        elif self.price_edges.size:
            bucket = int(np.searchsorted(self.price_edges, np.log1p(product.price)))
            tokens.append(f"price:{bucket}")
        return tokens

    def tokens(self, products: Sequence[Product | None]) -> sp.csr_matrix:
        """CSR ``(len(products), len(self))``; ``None`` (unknown product) gives an empty row."""
        indptr, indices = [0], []
        for product in products:
            if product is not None:
                found = {self._index.get(t, -1) for t in self.product_tokens(product)}
                indices.extend(sorted(i for i in found if i >= 0))
            indptr.append(len(indices))
        data = np.ones(len(indices), np.float32)
        shape = (len(products), len(self))
        return sp.csr_matrix((data, np.array(indices, np.int64), np.array(indptr)), shape=shape)

    def transform(
        self, products: Sequence[Product | None], encoder: TextEncoder | None = None
    ) -> ItemFeatures:
        """Features of ``products``; text embeddings only with an ``encoder``."""
        from shopsense.features.text import product_text

        if encoder is None:
            text = np.zeros((len(products), 0), np.float32)
        else:
            text = np.zeros((len(products), encoder.dimension), np.float32)
            known = [i for i, p in enumerate(products) if p is not None]
            texts = [product_text(p) for p in products if p is not None]
            if known:
                text[known] = encoder.encode(texts)
        return ItemFeatures(text, self.tokens(products))

    # --- persistence (plain arrays) ------------------------------------------------------
    def to_arrays(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        return {
            f"{prefix}vocabulary": np.array(self.vocabulary, dtype=str),
            f"{prefix}price_edges": self.price_edges,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[Any]], prefix: str) -> ItemFeatureSpace:
        return cls(arrays[f"{prefix}vocabulary"].tolist(), arrays[f"{prefix}price_edges"])


def catalog_features(
    products: Sequence[Product],
    item_ids: Sequence[str],
    encoder: TextEncoder | None = None,
    min_count: int = 2,
) -> tuple[ItemFeatureSpace, ItemFeatures]:
    """Fit the vocabulary on ``products`` and build features in ``item_ids`` order.

    Items missing from the catalog get an empty row (they fall back to the tower's bias).

    Example::

        >>> ids = data.items.to_list()                                     # doctest: +SKIP
        >>> space, x = catalog_features(products, ids, TextEncoder())      # doctest: +SKIP
        >>> model = ItemTower().with_item_features(x, space).fit(data)     # doctest: +SKIP
    """
    by_id = {p.id: p for p in products}
    missing = sum(1 for i in item_ids if i not in by_id)
    if missing:
        log.warning("%d of %d items have no catalog entry: empty features", missing, len(item_ids))
    space = ItemFeatureSpace.fit(products, min_count=min_count)
    return space, space.transform([by_id.get(i) for i in item_ids], encoder)
