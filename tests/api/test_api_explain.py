"""``explain=true``: a list a sequence model answered says which history items it attended
to, and its reasons name the one it attended to most."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shopsense.api import ServeConfig, create_app
from shopsense.config import Settings
from shopsense.store import ArtifactStore, open_store

pytest.importorskip("torch")

#: Both arms serve the bundle's SASRec: it answers every shopper's "for you".
EXPERIMENT = """
[[experiments]]
name = "sequence"
start = 2026-01-01T00:00:00Z
[[experiments.variants]]
name = "a"
policy = "sasrec"
[[experiments.variants]]
name = "b"
policy = "sasrec"
"""


@pytest.fixture(scope="module")
def client(
    trained_shop: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The trained shop whose serving bundle also holds a SASRec, served to everyone."""
    from shopsense.models import SASRec
    from shopsense.pipeline import build_interactions

    target = tmp_path_factory.mktemp("explain") / "data"
    shutil.copytree(trained_shop.data_dir, target)
    settings = Settings(data_dir=target)
    store = open_store(settings)
    data = build_interactions(store, settings)
    store.close()
    bundle = ArtifactStore(settings.artifacts_dir).latest()
    assert bundle is not None
    model = SASRec(hidden=16, layers=1, epochs=3, valid_fraction=0.0, num_threads=1).fit(data)
    model.save(bundle.path / "sasrec", training_log=False)
    manifest = json.loads((bundle.path / "manifest.json").read_text())
    manifest["serving_models"] = [*manifest.get("serving_models", []), "sasrec"]
    (bundle.path / "manifest.json").write_text(json.dumps(manifest))
    (target / "experiments.toml").write_text(EXPERIMENT)
    app = create_app(settings, ServeConfig(api_key="test-key"), search=False)
    with TestClient(app) as test_client:
        yield test_client


def engaged_shopper(client: TestClient) -> tuple[str, dict[str, object]]:
    for n in range(1, 60):
        user = f"U{n:04d}"
        body = client.get(f"/recommendations/{user}", params={"explain": "true"}).json()
        if body["strategy"] == "sasrec":
            return user, body
    raise AssertionError("no shopper was answered by SASRec")


def test_a_sasrec_list_returns_its_attention_and_names_the_top_item(
    client: TestClient,
) -> None:
    user, body = engaged_shopper(client)
    attention = body["attention"]
    assert isinstance(attention, list) and attention
    weights = [a["weight"] for a in attention]
    assert sum(weights) == pytest.approx(1.0, abs=1e-4)
    assert weights == sorted(weights, reverse=True)
    state = client.app.state.serving  # type: ignore[attr-defined]
    history = {e.item_id for e in state.history(user)}
    assert {a["item_id"] for a in attention} <= history
    top, second = attention[0], attention[1] if len(attention) > 1 else None
    for item in body["items"]:  # type: ignore[attr-defined]
        anchor = second if item["item_id"] == top["item_id"] else top
        if anchor is not None and item["explanation"].startswith("because you"):
            assert item["explanation"].endswith(anchor["title"])
    reasons = {item["explanation"] for item in body["items"]}  # type: ignore[attr-defined]
    assert any(r.endswith(top["title"]) for r in reasons)


def test_without_explain_there_is_no_attention_and_stack_lists_have_none(
    client: TestClient,
) -> None:
    user, _ = engaged_shopper(client)
    assert "attention" not in client.get(f"/recommendations/{user}").json()
    # the default stack has no sequence source: explain=true says so with null
    similar = client.get(
        f"/recommendations/{user}", params={"explain": "true", "scenario": "session"}
    ).json()
    assert similar["strategy"] != "sasrec" and similar["attention"] is None
