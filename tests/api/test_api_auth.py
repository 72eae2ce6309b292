"""API keys: writes and admin need one; reads when configured; no open non-loopback server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_helpers import API_KEY, HEADERS
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shopsense.api import ServeConfig, create_app
from shopsense.api.config import check_bind, is_loopback
from shopsense.cli import main
from shopsense.config import Settings
from shopsense.errors import ConfigError

WRITES = [
    ("post", "/events", {"json": {"events": [{"user_id": "u", "kind": "view", "item_id": "P1"}]}}),
    ("put", "/catalog/products", {"json": {"products": [{"id": "Z1", "title": "Z"}]}}),
    ("delete", "/users/U0001", {}),
    ("post", "/admin/reload", {}),
    ("get", "/admin/models", {}),
    ("post", "/admin/models/x/activate", {}),
]


@pytest.mark.parametrize(("method", "url", "kwargs"), WRITES)
def test_writes_and_admin_need_the_key(
    client: TestClient, method: str, url: str, kwargs: dict[str, object]
) -> None:
    missing = getattr(client, method)(url, **kwargs)
    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["error"]
    wrong = getattr(client, method)(url, headers={"X-API-Key": "nope"}, **kwargs)
    assert wrong.status_code == 401


def test_the_right_key_is_accepted(client: TestClient) -> None:
    assert client.get("/admin/models", headers=HEADERS).status_code == 200


def test_reads_are_public_by_default(client: TestClient) -> None:
    assert client.get("/recommendations/U0001").status_code == 200
    assert client.get("/health").status_code == 200


@pytest.fixture(scope="module")
def private_client(shop_copy: Settings) -> Iterator[TestClient]:
    config = ServeConfig(api_key=SecretStr(API_KEY), public_reads=False)
    with TestClient(create_app(shop_copy, config, search=False, storefront=False)) as c:
        yield c


def test_reads_can_require_the_key(private_client: TestClient) -> None:
    assert private_client.get("/recommendations/U0001").status_code == 401
    assert private_client.get("/recommendations/U0001", headers=HEADERS).status_code == 200
    assert private_client.get("/health").status_code == 200  # load balancers


def test_no_open_server_on_a_public_address(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")
    with pytest.raises(ConfigError, match="SHOPSENSE_API_KEY"):
        check_bind("0.0.0.0", ServeConfig(api_key=None))
    check_bind("0.0.0.0", ServeConfig(api_key=SecretStr("k")))
    check_bind("127.0.0.1", ServeConfig(api_key=None))


def test_serve_command_refuses_a_public_address_without_a_key(
    tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOPSENSE_API_KEY", raising=False)
    assert main(["--data-dir", str(tmp_path), "serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "refusing to listen on 0.0.0.0" in capsys.readouterr().err
