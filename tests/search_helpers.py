"""Helpers shared by the search and search-evaluation tests: a fast deterministic encoder."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from shopsense.features.text import DIMENSION, FloatMatrix, TextEncoder


class HashingEncoder(TextEncoder):
    """Bag of (crudely stemmed) words hashed into 384 dims: fast, offline, deterministic.

    Similar wording gives similar vectors, which is all the engine tests need; the real
    MiniLM encoder is exercised by the evaluation tests and benchmarks.
    """

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        out = np.zeros((len(texts), DIMENSION), np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                word = word[:-1] if len(word) > 3 and word.endswith("s") else word
                h = int(hashlib.md5(word.encode()).hexdigest()[:8], 16)
                out[i, h % DIMENSION] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] /= norm if norm else 1.0
        return out
