from __future__ import annotations

from pathlib import Path

import pytest

from shopsense.store.artifacts import ArtifactStore


def test_bundle_appears_only_when_finished(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(RuntimeError), store.build({"models": ["x"]}) as bundle:
        (bundle.path / "x").mkdir()
        raise RuntimeError("training failed")
    assert store.list() == []
    assert store.latest() is None


def test_latest_is_the_newest_published(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with store.build({"n": 1}):
        pass
    with store.build({"n": 2}):
        pass
    with store.build({"n": 3}, publish=False):
        pass
    latest = store.latest()
    assert latest is not None
    assert latest.manifest["n"] == 2
    assert [b.manifest["n"] for b in store.list()] == [1, 2, 3]
    assert "created_at" in latest.manifest
