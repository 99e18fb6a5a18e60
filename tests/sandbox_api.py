"""
What the sandbox's own tests share: the seed, a small authenticated client and assertion helpers.

The provider's hook is deliberately not used: here the sandbox is the thing under test. The fixtures
built on these are in :mod:`tests.sandbox_fixtures`.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import requests

from airflow_provider_intercom.sandbox import IntercomSandbox

TOKEN = "test-token"
TIMEOUT = 5
DEMO_SEED = Path(__file__).parents[1] / "airflow_provider_intercom" / "sandbox" / "demo_seed.json"
ALICE = "65a000000000000000000001"
BOB = "65a000000000000000000002"
CAROL = "65a000000000000000000003"
TRIAL, VIP = "101", "102"
SEED: dict[str, Any] = {
    "admins": [{"id": "7", "name": "Ada Admin", "email": "ada@example.com"}],
    "tags": [{"id": TRIAL, "name": "trial"}, {"id": VIP, "name": "VIP"}],
    "contacts": [
        {"id": ALICE, "email": "alice@example.com", "external_id": "u1", "role": "user", "tags": [TRIAL]},
        {"id": BOB, "email": "bob@example.com", "external_id": "u2", "owner_id": "42", "tags": [TRIAL, VIP]},
        {"id": CAROL, "email": "carol@example.org", "role": "lead"},
    ],
    "companies": [{"id": "c1", "company_id": "acme", "name": "Acme"}, {"id": "c2", "company_id": "globex"}],
    "conversations": [{"id": "1001"}],
    "tickets": [{"id": "2001"}],
}
ADMIN = "7"


class Api:
    """A small authenticated client for the sandbox."""

    def __init__(self, sandbox: IntercomSandbox, version: str | None = None) -> None:
        self.base_url = sandbox.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {sandbox.token}"
        if version is not None:
            self.session.headers["Intercom-Version"] = version

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base_url + path, timeout=TIMEOUT, **kwargs)


# This module is not a test module, so pytest does not rewrite its asserts: each names what it saw.
def assert_error(response: requests.Response, status: int, code: str, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json", response.headers
    body = response.json()
    assert body["type"] == "error.list", body
    uuid.UUID(body["request_id"])
    assert body["errors"][0]["code"] == code, body
    if message is not None:
        assert body["errors"][0]["message"] == message, body


def tag_ids_of(api: Api, contact_id: str) -> list[str]:
    response = api("GET", f"/contacts/{contact_id}/tags")
    assert response.status_code == 200, response.text
    return [tag["id"] for tag in response.json()["data"]]
