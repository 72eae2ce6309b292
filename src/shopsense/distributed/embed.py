"""Embed the catalog for search on Spark: the products' texts are encoded in partitions.

Each Spark Python worker loads the search encoder once (the packaged MiniLM, through
ONNX Runtime, or the static encoder) and encodes the texts of its partitions. The vectors
go into the server's embedding store (``DATA_DIR/search/embeddings``, the same file the
server keeps), so a server that starts after the run finds every product's vector and
encodes none; only texts the store does not hold yet are sent to Spark.

Executors need ShopSense with the ``search`` extra (the driver's Python is used in local
mode).

Example::

    >>> embed_catalog(spark, products, Path("data/search/embeddings"), "minilm")  # doctest: +SKIP
    (20000, 0)
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from shopsense.domain import Product
from shopsense.features.embedding_store import embedding_store
from shopsense.features.text import default_encoder

#: Texts per Spark partition: large enough to amortise a task, small enough to spread.
TEXTS_PER_PARTITION = 2_000


def _encode_partition(batches: Iterator[Any], kind: str) -> Iterator[Any]:
    """A Spark worker: ``(i, text)`` Arrow batches in, ``(i, vector)`` out."""
    import pyarrow as pa

    encoder = default_encoder(kind)  # once per Python worker (a per-process cache)
    for batch in batches:
        texts = batch.column("text").to_pylist()
        vectors = np.asarray(encoder.encode(texts), np.float32)
        offsets = pa.array(np.arange(0, vectors.size + 1, vectors.shape[1], dtype=np.int32))
        values = pa.array(vectors.ravel(), pa.float32())
        yield pa.RecordBatch.from_arrays(
            [batch.column("i"), pa.ListArray.from_arrays(offsets, values)], ["i", "vector"]
        )


def spark_encoder(spark: Any, kind: str, dimension: int) -> Any:
    """A function ``texts -> (n, dimension)`` vectors that encodes on ``spark``."""

    def encode(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, dimension), np.float32)
        frame = spark.createDataFrame(list(enumerate(texts)), "i long, text string")
        parts = max(1, -(-len(texts) // TEXTS_PER_PARTITION))
        encoded = frame.repartition(parts).mapInArrow(
            functools.partial(_encode_partition, kind=kind), "i long, vector array<float>"
        )
        table = encoded.toArrow()
        out = np.zeros((len(texts), dimension), np.float32)
        rows = table.column("i").to_numpy()
        vectors = table.column("vector").combine_chunks().flatten().to_numpy()
        out[rows] = vectors.reshape(-1, dimension)
        return out

    return encode


def embed_catalog(
    spark: Any, products: Sequence[Product], directory: Path, kind: str
) -> tuple[int, int]:
    """Fill the embedding store under ``directory`` with the ``kind`` encoder's vectors of
    every product's text, encoding on Spark what it does not hold yet; returns
    ``(products, encoded)``."""
    encoder = default_encoder(kind)  # its id and dimension (the model loads on first use)
    store = embedding_store(directory, encoder)
    texts = [encoder.product_text(p) for p in products]
    store.encode(texts, spark_encoder(spark, kind, encoder.dimension))
    store.save()
    return len(texts), store.misses
