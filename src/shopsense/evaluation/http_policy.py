"""A running ShopSense server as a policy of the simulator (``shopsense simulate --url``).

:class:`HttpPolicy` asks ``GET /recommendations`` and ``GET /search`` for each simulated
request, posts the shoppers' events back to ``POST /events`` (so the server's real-time path
sees them) and can make the server retrain (``POST /admin/train``). It speaks through any
:class:`HttpClient`: an ``httpx.Client`` of its own by default (keep-alive; httpx comes with
the ``api`` extra), or FastAPI's ``TestClient``.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import numpy as np

from shopsense.domain import Event, EventKind
from shopsense.errors import ConfigError
from shopsense.evaluation.policies import Request, Shown


class HttpResponse(Protocol):
    """What :class:`HttpPolicy` reads from an answer (``httpx.Response`` has both)."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...


class HttpClient(Protocol):
    """``request(method, url, content=, headers=)``: an ``httpx.Client`` or FastAPI's
    ``TestClient`` (the app in-process) fit. A non-2xx status is an answer, not an exception;
    a server that cannot be reached raises ``httpx.TransportError`` or ``OSError``."""

    def request(
        self, method: str, url: str, *, content: bytes | None = None, headers: dict[str, str]
    ) -> HttpResponse: ...


@dataclass
class HttpPolicy:
    """A ShopSense server: ``GET {url}/recommendations/{user}?scenario=for_you&n=N`` and
    ``GET {url}/search?q=...&user_id=...`` must answer ``{"items": [{"item_id": ...,
    "propensity": ...}], "request_id": ...}``; simulated events go to ``POST {url}/events``
    (``{"events": [...]}``, key in ``X-API-Key``) so the server's real-time path sees them
    and its next answer uses them.

    The server leaves out only what its re-consumption rule says, the simulator may hide
    more (stock-outs it has not heard of), so ``overfetch`` times ``n`` items are asked for
    (at most 100, the API's cap) and the first ``n`` allowed ones are shown. Events carry
    the server's ``request_id`` (its impressions and experiment statistics attribute them)
    and event ids prefixed with a per-policy ``run_id`` (so a second simulation against the
    same server is not dropped as duplicates). The server logs the impressions of every
    list it serves itself, with their propensities: the simulator does not post them again.

    Example::

        >>> with HttpPolicy("http://127.0.0.1:8000", item_ids, "KEY") as policy:  # doctest: +SKIP
        ...     result = simulator.run(policy)
        >>> with TestClient(app) as client:                                   # doctest: +SKIP
        ...     policy = HttpPolicy("", item_ids, api_key="KEY", client=client)
    """

    url: str
    item_ids: list[str]
    api_key: str | None = None
    scenario: str = "for_you"
    timeout_s: float = 10.0
    name: str = "http"
    overfetch: int = 3
    client: HttpClient | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _index: dict[str, int] = field(init=False, repr=False)
    _server_requests: dict[str, str] = field(init=False, repr=False, default_factory=dict)
    _own_client: httpx.Client | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self._index = {item: i for i, item in enumerate(self.item_ids)}
        if self.client is None:
            # Connections kept alive for the whole run; ``timeout_s`` bounds connecting and
            # each read and write. Redirects are followed (as urllib did); no retries: an
            # unreachable server is an error.
            self._own_client = httpx.Client(timeout=self.timeout_s, follow_redirects=True)
            self.client = self._own_client

    def close(self) -> None:
        """Close the connections of the client this policy made (not one passed in)."""
        if self._own_client is not None:
            self._own_client.close()

    def __enter__(self) -> HttpPolicy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        assert self.client is not None
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        data = None if body is None else json.dumps(body).encode()
        try:
            response = self.client.request(method, self.url + path, content=data, headers=headers)
        except (OSError, httpx.TransportError) as exc:
            raise ConfigError(
                f"the ShopSense server at {self.url} did not answer {method} {path}: {exc}; "
                "start it with `shopsense serve` or fix --url"
            ) from exc
        if response.status_code >= 400:
            detail = response.content[:300].decode("utf-8", "replace")
            hint = (
                "; pass the server's key with --api-key"
                if response.status_code in (401, 403)
                else ""
            )
            raise ConfigError(
                f"the ShopSense server at {self.url} answered {method} {path} with "
                f"{response.status_code}: {detail}{hint}"
            )
        try:
            return json.loads(response.content or b"null")
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"the server at {self.url} answered {method} {path} with non-JSON: {exc}; "
                "is --url a ShopSense server?"
            ) from exc

    def recommend(self, requests: Sequence[Request]) -> list[Shown]:
        out = []
        for request in requests:
            fetch = min(100, max(request.n, request.n * self.overfetch))
            user = urllib.parse.quote(request.user_id, safe="")
            if request.query is not None:
                query = urllib.parse.urlencode(
                    {"q": request.query, "user_id": request.user_id, "page_size": fetch,
                     "facets": "false"}
                )  # fmt: skip
                path = f"/search?{query}"
            else:
                query = urllib.parse.urlencode({"scenario": self.scenario, "n": fetch})
                path = f"/recommendations/{user}?{query}"
            answer = self._call("GET", path)
            if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
                raise ConfigError(
                    f"GET {path} at {self.url} did not answer "
                    '{"items": [...]}; is --url a ShopSense server?'
                )
            if request.request_id and answer.get("request_id"):
                self._server_requests[request.request_id] = str(answer["request_id"])
            index: list[int] = []
            propensity: list[float] = []
            for entry in answer["items"]:
                i = self._index.get(str(entry["item_id"]))
                if i is not None and request.allowed[i] and len(index) < request.n:
                    index.append(i)
                    propensity.append(float(entry.get("propensity") or 1.0))
            out.append(Shown(np.asarray(index, np.int64), np.asarray(propensity)))
        return out

    def observe(self, events: Sequence[Event]) -> None:
        self.post([e for e in events if e.kind is not EventKind.IMPRESSION])

    def post(self, events: Sequence[Event]) -> None:
        """Store ``events`` on the server (e.g. exploration traffic it should learn from)."""
        posted = [self._as_posted(e) for e in events]
        for start in range(0, len(posted), 1000):  # the API takes up to 1000 per call
            self._call("POST", "/events", {"events": posted[start : start + 1000]})

    def retrain(self, timeout_s: float = 900.0, poll_s: float = 2.0) -> dict[str, Any]:
        """Ask the server to retrain and wait until the job ends; a bundle that passed the
        quality gate is then serving. Returns the job."""
        job = self._call("POST", "/admin/train")["job"]
        deadline = time.monotonic() + timeout_s
        while job.get("status") == "running":
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"the server at {self.url} did not finish training within {timeout_s:.0f} s"
                )
            time.sleep(poll_s)
            jobs = self._call("GET", "/admin/models")["jobs"]
            job = next((j for j in jobs if j["id"] == job["id"]), job)
        if job.get("status") == "failed":
            raise ConfigError(f"the server's training failed: {job.get('error')}")
        return dict(job)

    def _as_posted(self, event: Event) -> dict[str, Any]:
        body: dict[str, Any] = event.model_dump(mode="json", exclude_none=True)
        body["event_id"] = f"{self.run_id}-{event.event_id}"
        if event.request_id is not None:
            body["request_id"] = self._server_requests.get(event.request_id, event.request_id)
        return body
