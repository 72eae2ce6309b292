from __future__ import annotations

import os
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


def built(store: ArtifactStore, n: int, publish: bool = True) -> str:
    with store.build({"n": n}, publish=publish) as bundle:
        pass
    return bundle.id


def test_a_starting_server_serves_the_last_choice_unless_a_newer_bundle_came(
    tmp_path: Path,
) -> None:
    store = ArtifactStore(tmp_path)
    assert store.serving() is None
    first, second = built(store, 1), built(store, 2)
    assert store.to_serve().id == second  # type: ignore[union-attr]  # nothing chosen yet
    store.choose_serving(first)  # a roll-back
    assert store.serving() is not None and store.serving()[0] == first  # type: ignore[index]
    assert store.to_serve().id == first  # type: ignore[union-attr]  # it outlives a restart
    built(store, 3, publish=False)
    assert store.to_serve().id == first  # type: ignore[union-attr]  # not published: no change
    third = built(store, 4)
    assert store.to_serve().id == third  # type: ignore[union-attr]  # published after the choice
    store.choose_serving("gone")  # a choice that names no bundle is ignored
    assert store.to_serve().id == third  # type: ignore[union-attr]
    (tmp_path / "serving.json").write_text("{damaged")
    assert store.serving() is None
    assert store.to_serve().id == third  # type: ignore[union-attr]


def test_try_lock_is_held_by_one_process_at_a_time(tmp_path: Path) -> None:
    import subprocess
    import sys

    from shopsense.store.artifacts import try_lock

    path = tmp_path / "schedule.lock"
    fd = try_lock(path)
    assert fd is not None
    code = "import sys; from pathlib import Path; from shopsense.store.artifacts import try_lock; "
    code += "sys.exit(0 if try_lock(Path(sys.argv[1])) is None else 1)"
    assert subprocess.run([sys.executable, "-c", code, str(path)]).returncode == 0
    os.close(fd)
    assert subprocess.run([sys.executable, "-c", code, str(path)]).returncode == 1
