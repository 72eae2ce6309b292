"""Fuzzing the whole OpenAPI spec with schemathesis (issue 12): no input makes a server
error, every answer's status code is documented and every body matches its schema.

Not checked: that every schema-valid request is accepted (a view needs a product id, an
event's product must be in the catalog: rules a JSON schema cannot state; those refusals
are 422s naming the field, which the other tests check). Search runs only where its index
is built (``test_api_search.py`` fuzzes it); here it is off and answers 503."""

from __future__ import annotations

import pytest
from api_helpers import fuzz_operations
from fastapi.testclient import TestClient

pytest.importorskip("schemathesis")

#: Operations that start long work (training) or change what every other test sees, and
#: search (off in this app).
SKIPPED = {("POST", "/admin/train"), ("POST", "/admin/reload"),
           ("POST", "/admin/models/{bundle_id}/activate"), ("GET", "/search"),
           ("GET", "/suggest")}  # fmt: skip


@pytest.mark.slow
def test_the_spec_holds_for_generated_requests(client: TestClient) -> None:
    ran, failures = fuzz_operations(client, skip=SKIPPED)
    assert ran >= 10  # every operation of the spec but the skipped ones
    assert not failures, "\n\n".join(failures)
