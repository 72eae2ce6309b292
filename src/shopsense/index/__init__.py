"""Indexes over the catalog: BM25 full text (tantivy) and product vectors (usearch).

Example::

    >>> from shopsense.index import LexicalIndex, VectorIndex
    >>> lexical, vectors = LexicalIndex(), VectorIndex(dim=384)
"""

from shopsense.index.lexical import LexicalFilter, LexicalIndex
from shopsense.index.vectors import VectorIndex

__all__ = ["LexicalFilter", "LexicalIndex", "VectorIndex"]
