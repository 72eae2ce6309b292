"""Faults (issue 12): a damaged bundle never takes the server down or replaces what serves."""

from __future__ import annotations

import shutil
from pathlib import Path

from api_helpers import API_KEY, HEADERS
from fastapi.testclient import TestClient

from shopsense.api import ServeConfig, create_app
from shopsense.config import Settings
from shopsense.store import ArtifactStore


def damaged_copy_of_the_latest(settings: Settings) -> str:
    """A newer published bundle whose files are cut short (a disk that filled up)."""
    latest = ArtifactStore(settings.artifacts_dir).latest()
    assert latest is not None
    broken = latest.path.parent / "99991231T000000000000Z-broken"
    shutil.copytree(latest.path, broken)
    for path in broken.rglob("*"):
        if path.is_file() and path.name != "manifest.json":
            path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
    return latest.id


def test_a_damaged_bundle_is_not_served(shop_copy: Settings, tmp_path: Path) -> None:
    shutil.copytree(shop_copy.data_dir, tmp_path / "data")
    settings = Settings(data_dir=tmp_path / "data")
    app = create_app(settings, ServeConfig(api_key=API_KEY, follow_changes_s=0), search=False)
    with TestClient(app) as client:  # a healthy server, then the damaged bundle appears
        good = client.get("/health").json()["bundle"]
        damaged_copy_of_the_latest(settings)
        reload = client.post("/admin/reload", headers=HEADERS)
        assert reload.status_code == 503, reload.text
        assert "still serving" in reload.json()["error"]
        health = client.get("/health").json()
        assert health["bundle"] == good
        assert "99991231T000000000000Z-broken" in health["bundle_error"]
        assert client.get("/recommendations/U0001").status_code == 200
    with TestClient(create_app(settings, ServeConfig(api_key=API_KEY), search=False)) as client:
        health = client.get("/health").json()  # a restart falls back to the older bundle
        assert health["bundle"] == good and health["bundle_error"]
        assert client.get("/recommendations/U0001").status_code == 200
