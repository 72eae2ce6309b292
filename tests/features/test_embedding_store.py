from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsense.features.embedding_store import EmbeddingStore, text_key


class CountingEncoder:
    """Deterministic 8-d vectors from the text's hash; remembers what it was asked."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        rows = [np.frombuffer(text_key(t)[:8], np.uint8).astype(np.float32) for t in texts]
        return np.array(rows, np.float32).reshape(len(texts), 8)


def test_only_new_texts_are_encoded_and_a_restart_keeps_them(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    store = EmbeddingStore(tmp_path, "enc", dimension=8)
    first = store.encode(["red shoe", "blue hat"], encoder)
    again = store.encode(["blue hat", "green scarf", "red shoe"], encoder)
    assert encoder.seen == ["red shoe", "blue hat", "green scarf"]
    np.testing.assert_array_equal(again[[2, 0]], first)
    store.save()

    encoder.seen.clear()
    reopened = EmbeddingStore(tmp_path, "enc", dimension=8)
    vectors = reopened.encode(["green scarf", "red shoe"], encoder)
    assert encoder.seen == [] and (reopened.hits, reopened.misses) == (2, 0)
    np.testing.assert_array_equal(vectors, again[[1, 2]])


def test_saving_drops_texts_not_asked_for_since_opening(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    store = EmbeddingStore(tmp_path, "enc", dimension=8)
    store.encode(["old title", "kept"], encoder)
    store.save()
    reopened = EmbeddingStore(tmp_path, "enc", dimension=8)
    reopened.encode(["kept", "new title"], encoder)  # the product was renamed
    reopened.save()
    assert len(EmbeddingStore(tmp_path, "enc", dimension=8)) == 2


def test_damaged_or_foreign_files_are_ignored_not_trusted(tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path, "enc", dimension=8)
    store.path.write_bytes(b"not an npz")
    assert len(EmbeddingStore(tmp_path, "enc", dimension=8)) == 0
    other = EmbeddingStore(tmp_path, "enc", dimension=8)
    other.encode(["x"], CountingEncoder())
    other.save()
    assert len(EmbeddingStore(tmp_path, "enc", dimension=16)) == 0  # another shape
    assert len(EmbeddingStore(tmp_path, "other-encoder", dimension=8)) == 0  # another file


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=20))
def test_vectors_are_the_encoders_whatever_the_texts(tmp_path_factory, texts: list[str]) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path_factory.mktemp("store")
    encoder = CountingEncoder()
    store = EmbeddingStore(directory, "enc", dimension=8)
    expected = encoder(texts) if texts else np.zeros((0, 8), np.float32)
    np.testing.assert_array_equal(store.encode(texts, encoder), expected)
    store.save()
    reopened = EmbeddingStore(directory, "enc", dimension=8)
    fresh = CountingEncoder()
    np.testing.assert_array_equal(reopened.encode(texts, fresh), expected)
    assert fresh.seen == []


def test_two_saves_at_once_both_land_whole(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Regression: the temporary file was named by process id only, so the search build's
    # save and a second server's (same process in tests) wrote one file and the second
    # rename failed (FileNotFoundError), failing the build.
    import threading

    both_written = threading.Barrier(2, timeout=10)
    savez = np.savez

    def savez_then_wait(handle, **arrays):  # type: ignore[no-untyped-def]
        savez(handle, **arrays)
        both_written.wait()  # neither renames before both have written

    monkeypatch.setattr(np, "savez", savez_then_wait)
    stores = [EmbeddingStore(tmp_path, "enc", dimension=8) for _ in range(2)]
    for store, text in zip(stores, ["red shoe", "blue hat"], strict=True):
        store.encode([text], CountingEncoder())
    errors: list[BaseException] = []

    def save(store: EmbeddingStore) -> None:
        try:
            store.save()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(EmbeddingStore(tmp_path, "enc", dimension=8)) == 1  # one of them, whole
    assert [p.name for p in tmp_path.iterdir()] == ["embeddings-enc.npz"]
