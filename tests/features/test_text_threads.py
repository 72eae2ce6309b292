"""The text encoders are used from several threads at once (a catalog upsert, the catalog
follower, search): one encode runs at a time."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from shopsense.features.static_text import StaticEncoder


class BorrowingModel:
    """Stands in for a model whose tokenizer refuses to be used from two threads at once,
    as the `tokenizers` library does ("RuntimeError: Already borrowed")."""

    def __init__(self) -> None:
        self.busy = False

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        if self.busy:
            raise RuntimeError("Already borrowed")
        self.busy = True
        time.sleep(0.002)
        self.busy = False
        return np.ones((len(texts), 4), np.float32)


def test_concurrent_encodes_take_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: PUT /catalog/products failed with "Already borrowed" while the catalog
    follower encoded the same new products (seen in the suite's fuzzing)."""
    encoder = StaticEncoder()
    model = BorrowingModel()
    monkeypatch.setattr(encoder, "_loaded", lambda: model)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                assert encoder.encode(["a mug", "a cup"]).shape == (2, 4)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
