"""GET /me."""

from __future__ import annotations

from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.sandbox_api import TOKEN, Api

pytest_plugins = ["tests.sandbox_fixtures"]


def test_me_returns_the_first_seeded_admin_with_its_app(api: Api) -> None:
    response = api("GET", "/me")
    assert response.status_code == 200
    admin = response.json()
    assert (admin["type"], admin["id"], admin["email"]) == ("admin", "7", "ada@example.com")
    assert admin["app"]["type"] == "app"
    assert isinstance(admin["team_ids"], list)


def test_me_has_a_default_admin_without_seed() -> None:
    with IntercomSandbox(token=TOKEN) as bare:
        response = Api(bare)("GET", "/me")
    assert response.status_code == 200
    assert response.json()["type"] == "admin"
