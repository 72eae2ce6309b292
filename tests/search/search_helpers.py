"""Helpers shared by the search tests: a fast deterministic encoder and a small catalog."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from shopsense.domain import Product
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


def catalog() -> list[Product]:
    rows = [
        (
            "P1",
            "Trail running shoe, waterproof",
            "Grippy outsole.",
            "Sports > Running > Shoes",
            "Stormline",
            79.0,
            True,
            {"color": "blue", "size": "42"},
        ),
        (
            "P2",
            "Road running shoe",
            "Light and fast.",
            "Sports > Running > Shoes",
            "Peakform",
            99.0,
            True,
            {"color": "red", "size": "43"},
        ),
        (
            "P3",
            "Running socks 3-pack",
            "Socks for running shoes.",
            "Sports > Running > Socks",
            "Peakform",
            12.0,
            True,
            {"color": "white"},
        ),
        (
            "P4",
            "Grey 3 seater sofa",
            "A comfortable sofa.",
            "Home > Living > Sofas",
            "Oakhaven",
            799.0,
            True,
            {"color": "grey"},
        ),
        (
            "P5",
            "Blue ceramic mug",
            "Holds coffee.",
            "Home > Kitchen > Mugs",
            "Oakhaven",
            9.0,
            False,
            {"color": "blue"},
        ),
        (
            "P6",
            "iPhone case, leather",
            "Slim phone case.",
            "Electronics > Phones > Cases",
            "Nexora",
            25.0,
            True,
            {"color": "black"},
        ),
        (
            "P7",
            "Waterproof rain jacket",
            "Keeps you dry on a run.",
            "Fashion > Jackets",
            "Stormline",
            120.0,
            True,
            {"color": "yellow", "size": "M"},
        ),
        (
            "P8",
            "Leather wallet",
            "A wallet, not a shoe.",
            "Fashion > Accessories",
            "Nexora",
            45.0,
            True,
            {"color": "brown"},
        ),
    ]
    return [
        Product(
            id=i,
            title=t,
            description=d,
            category=c,
            brand=b,
            price=p,
            in_stock=s,
            attributes=a,
            created_at=f"2026-01-{n + 1:02d}T00:00:00Z",
        )
        for n, (i, t, d, c, b, p, s, a) in enumerate(rows)
    ]
