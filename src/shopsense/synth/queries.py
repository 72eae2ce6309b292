"""Search in the simulated shop: what shoppers type, and the shop's own keyword search.

Queries are built from a leaf's vocabulary the way people type them: a noun or a synonym,
sometimes a colour, feature, gender, material, brand or spec, words dropped or reordered,
and the occasional typo ("waterprof trail shoes", "mens running shoe blue").

:class:`KeywordSearch` is the shop's existing search engine that served the logged result
lists (tf-idf over titles, descriptions and categories, nudged by popularity). It only
makes the logs believable; ShopSense's own search lives elsewhere.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
from scipy import sparse

from shopsense.domain import Product
from shopsense.synth.vocabulary import LeafCategory

_TOKEN = re.compile(r"[a-z0-9]+")
_GENDER_WORDS = {"men": ("mens", "men's", "men"), "women": ("womens", "women's", "ladies")}
TYPO_RATE = 0.06


def tokens(text: str) -> list[str]:
    """Lower-case word tokens with a crude plural stem ("shoes" -> "shoe")."""
    out = []
    for token in _TOKEN.findall(text.lower()):
        if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
            token = token[:-1]
        out.append(token)
    return out


def make_query(leaf: LeafCategory, brands: tuple[str, ...], rng: np.random.Generator) -> str:
    """A query a shopper looking for something in ``leaf`` might type."""
    noun = leaf.noun if rng.random() < 0.5 else str(rng.choice(leaf.synonyms))
    words = noun.split()
    if len(words) > 1 and rng.random() < 0.15:
        del words[int(rng.integers(len(words)))]
    if rng.random() < 0.25 and not words[-1].endswith("s"):
        words[-1] += "s"
    before: list[str] = []
    after: list[str] = []
    if leaf.gendered and rng.random() < 0.3:
        gender = "men" if rng.random() < 0.5 else "women"
        before.append(str(rng.choice(_GENDER_WORDS[gender])))
    for pool, chance in ((leaf.features, 0.3), (leaf.materials, 0.12), (leaf.colors, 0.25)):
        if pool and rng.random() < chance:
            (after if rng.random() < 0.2 else before).append(str(rng.choice(pool)))
    if leaf.spec is not None and rng.random() < 0.1:
        after.append(str(rng.choice(leaf.spec[1])))
    if brands and rng.random() < 0.08:
        before.insert(0, str(rng.choice(brands)))
    query = [w.lower() for w in (*before, *words, *after)]
    if rng.random() < TYPO_RATE:
        query = _typo(query, rng)
    return " ".join(query)


def _typo(words: list[str], rng: np.random.Generator) -> list[str]:
    """Swap, drop or double one letter of one longer word."""
    long_words = [i for i, w in enumerate(words) if len(w) >= 5]
    if not long_words:
        return words
    i = long_words[int(rng.integers(len(long_words)))]
    word = words[i]
    at = int(rng.integers(1, len(word) - 1))
    kind = int(rng.integers(3))
    if kind == 0:
        word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    elif kind == 1:
        word = word[:at] + word[at + 1 :]
    else:
        word = word[:at] + word[at] + word[at:]
    return [*words[:i], word, *words[i + 1 :]]


class KeywordSearch:
    """tf-idf keyword search over the catalog; ``search`` returns item indices."""

    def __init__(self, products: list[Product]) -> None:
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        weights: list[float] = []
        for i, product in enumerate(products):
            fields = (
                (product.title, 2.0),
                (product.description, 1.0),
                (" ".join(product.category), 1.0),
            )
            seen: dict[int, float] = {}
            for text, weight in fields:
                for token in tokens(text):
                    j = vocabulary.setdefault(token, len(vocabulary))
                    seen[j] = max(seen.get(j, 0.0), weight)
            rows.extend([i] * len(seen))
            cols.extend(seen)
            weights.extend(seen.values())
        matrix = sparse.csr_matrix(
            (weights, (rows, cols)), shape=(len(products), max(len(vocabulary), 1))
        )
        document_frequency = np.bincount(cols, minlength=matrix.shape[1])
        self._idf = np.log((1 + len(products)) / (1 + document_frequency))
        self._matrix = matrix
        self._vocabulary = vocabulary

    def search(
        self,
        query: str,
        available: npt.NDArray[np.bool_],
        popularity: npt.NDArray[np.float64],
        k: int,
        rng: np.random.Generator,
    ) -> npt.NDArray[np.intp]:
        """Top ``k`` matching available items; ``available`` and ``popularity`` (log scale)
        have shape ``(n_items,)``. Fewer than ``k`` (or none) when few items match."""
        ids = sorted({self._vocabulary[t] for t in tokens(query) if t in self._vocabulary})
        if not ids:
            return np.empty(0, dtype=np.intp)
        query_vector = np.zeros(self._matrix.shape[1])
        query_vector[ids] = self._idf[ids]
        relevance = np.asarray(self._matrix @ query_vector)
        candidates = np.flatnonzero((relevance > 0) & available)
        if candidates.size == 0:
            return np.empty(0, dtype=np.intp)
        score = (
            relevance[candidates]
            + 0.3 * popularity[candidates]
            + rng.gumbel(0.0, 0.3, candidates.size)
        )
        top = np.argsort(-score, kind="stable")[:k]
        return candidates[top].astype(np.intp)
