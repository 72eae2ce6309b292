"""Artifact store: versioned model bundles on the file system.

A bundle is a directory ``<root>/bundles/<bundle_id>/`` holding ``manifest.json`` and one
sub-directory per artifact. Bundles are built in a hidden staging directory and renamed
into place, so a reader never sees half a bundle. ``published`` marks the bundles that
passed their quality gate; :meth:`ArtifactStore.latest` returns the newest of those.

A build holds an exclusive lock on a file in its staging directory; the operating system
releases it when the builder exits, however it exits. Each new build removes the staging
directories whose lock is free: what a build killed mid-way (``kill -9``, out of memory)
left behind, which would otherwise keep up to a bundle's worth of disk for good.

Example::

    >>> import tempfile
    >>> from shopsense.store.artifacts import ArtifactStore
    >>> store = ArtifactStore(tempfile.mkdtemp())
    >>> with store.build({"models": ["popularity"]}) as staging:
    ...     (staging.path / "popularity").mkdir()
    >>> store.latest().manifest["models"]
    ['popularity']
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopsense.files import write_text_atomically

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: The bundle the servers on this store serve, as last chosen by one of them.
SERVING = "serving.json"
LOCK = ".building"
#: A staging directory without its lock file is left alone this long (it may be a build
#: between creating its directory and locking it).
UNLOCKED_GRACE_S = 3600.0

try:
    import fcntl
except ImportError:  # not POSIX: abandoned builds are found by age only
    fcntl = None  # type: ignore[assignment]


def _lock(path: Path) -> int:
    """An open descriptor holding an exclusive lock on ``path`` (created)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def try_lock(path: Path) -> int | None:
    """An open descriptor holding an exclusive lock on ``path`` (created), or ``None`` when
    another process holds it; the lock goes when the holder exits, however it exits.
    Without ``fcntl`` (not POSIX) every caller gets it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
    return fd


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Write ``value`` to ``path`` as JSON through a temporary file renamed into place: a
    reader sees the old file or the new one, never half of one."""
    write_text_atomically(path, json.dumps(value, indent=1, sort_keys=True))


def _abandoned(staging: Path) -> bool:
    """Is nobody building in ``staging``? (its lock is free, or it has none and is old)"""
    lock = staging / LOCK
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        try:
            return time.time() - staging.stat().st_mtime > UNLOCKED_GRACE_S
        except OSError:
            return False
    except OSError:
        return False
    try:
        if fcntl is None:
            return time.time() - lock.stat().st_mtime > 86_400
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live build holds it
        return True
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Bundle:
    """A finished bundle on disk."""

    id: str
    path: Path
    manifest: dict[str, Any]

    @property
    def published(self) -> bool:
        return bool(self.manifest.get("published", False))


class ArtifactStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._bundles = self.root / "bundles"
        self._staging = self.root / ".staging"

    @contextmanager
    def build(self, manifest: dict[str, Any], publish: bool = True) -> Iterator[Bundle]:
        """Stage a new bundle; it appears (atomically) only if the block finishes."""
        created = datetime.now(UTC)
        bundle_id = created.strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]
        staging = self._staging / bundle_id
        staging.mkdir(parents=True)
        lock = _lock(staging / LOCK)
        try:
            self.sweep()
            full = {**manifest, "id": bundle_id, "created_at": created.isoformat()}
            full["published"] = publish
            bundle = Bundle(bundle_id, staging, full)
            try:
                yield bundle
                (staging / MANIFEST).write_text(json.dumps(bundle.manifest, indent=2, default=str))
                self._bundles.mkdir(parents=True, exist_ok=True)
                (staging / LOCK).unlink()
                staging.replace(self._bundles / bundle_id)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        finally:
            os.close(lock)

    def sweep(self) -> list[str]:
        """Remove the staging directories of builds that died; returns their ids."""
        if not self._staging.is_dir():
            return []
        removed = []
        for path in sorted(self._staging.iterdir()):
            if path.is_dir() and _abandoned(path):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        if removed:
            log.info("removed %d staging directories of builds that died", len(removed))
        return removed

    def list(self) -> list[Bundle]:
        """All finished bundles, oldest first."""
        if not self._bundles.exists():
            return []
        found = []
        for path in sorted(self._bundles.iterdir()):
            manifest_path = path / MANIFEST
            if not manifest_path.is_file():
                continue
            try:
                manifest = json.loads(manifest_path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                # One damaged bundle must not hide the others (the server falls back).
                log.warning("skipping bundle %s: unreadable manifest (%s)", path.name, exc)
                continue
            found.append(Bundle(path.name, path, manifest))
        return found

    def latest(self) -> Bundle | None:
        """The newest published bundle, or ``None``."""
        published = [b for b in self.list() if b.published]
        return published[-1] if published else None

    def choose_serving(self, bundle_id: str) -> None:
        """Record ``bundle_id`` as what every server on this store serves: the others
        (workers, hosts sharing the directory) follow it, and a server starting later
        starts with it unless a newer bundle was published since."""
        self.root.mkdir(parents=True, exist_ok=True)
        latest = self.latest()
        write_json(
            self.root / SERVING, {"bundle_id": bundle_id, "newest": latest.id if latest else None}
        )

    def serving(self) -> tuple[str, str | None] | None:
        """The bundle id last chosen with :meth:`choose_serving` and the newest published
        bundle then, or ``None`` (never chosen, or the record is unreadable)."""
        try:
            record = json.loads((self.root / SERVING).read_text())
            newest = record.get("newest")
            return str(record["bundle_id"]), str(newest) if newest is not None else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def to_serve(self) -> Bundle | None:
        """What a starting server serves: the bundle last chosen by a server (so a roll-back
        outlives a restart), unless a newer one was published after that choice; else the
        newest published bundle."""
        latest = self.latest()
        chosen = self.serving()
        if latest is None or chosen is None or latest.id != chosen[1]:
            return latest
        return next((b for b in self.list() if b.id == chosen[0] and b.published), latest)
