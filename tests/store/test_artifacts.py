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


def test_a_build_killed_mid_way_leaves_no_staging_behind(tmp_path: Path) -> None:
    """Regression (benchmarks/kill_rounds.py): ``shopsense train`` killed while writing its
    bundle left ``.staging/<id>/`` on disk for good, a partial bundle's worth each time."""
    import os
    import signal
    import subprocess
    import sys
    import time

    code = (
        "import sys, time\n"
        "from shopsense.store.artifacts import ArtifactStore\n"
        "with ArtifactStore(sys.argv[1]).build({'n': 0}) as b:\n"
        "    (b.path / 'model.bin').write_bytes(b'x' * 1000)\n"
        "    print('building', flush=True)\n"
        "    time.sleep(60)\n"
    )
    builder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert builder.stdout is not None and builder.stdout.readline().strip() == "building"
    store = ArtifactStore(tmp_path)
    staging = tmp_path / ".staging"
    assert store.sweep() == []  # a live build is left alone
    os.kill(builder.pid, signal.SIGKILL)
    builder.wait(10)
    assert len(list(staging.iterdir())) == 1
    with store.build({"n": 1}):
        pass  # the next build sweeps what the dead one left
    assert list(staging.iterdir()) == []
    assert [b.manifest["n"] for b in store.list()] == [1]
    assert not (store.list()[0].path / ".building").exists()
    # a staging directory without a lock (a build between mkdir and lock) waits its grace
    young = staging / "young"
    young.mkdir()
    assert store.sweep() == [] and young.exists()
    old = time.time() - 2 * 3600
    os.utime(young, (old, old))
    assert store.sweep() == ["young"]
