"""Routing: the request type, the router (joined routers, ``since``) and how it renders named errors."""

from __future__ import annotations

import json

import pytest

from airflow_provider_intercom.sandbox.backend import IntercomBackend
from airflow_provider_intercom.sandbox.errors import ContactMerged, ParameterInvalid
from airflow_provider_intercom.sandbox.routing import ApiRequest, ApiResponse, Router, ok
from airflow_provider_intercom.sandbox.state import SandboxState
from tests.sandbox_api import Api, assert_error

pytest_plugins = ["tests.sandbox_fixtures"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("PUT", "/tags"), ("GET", "/tags/1/x")])
def test_unknown_paths_and_methods_get_404(api: Api, method: str, path: str) -> None:
    assert_error(api(method, path), 404, "not_found", "Resource Not Found")


def _dispatch(router: Router, method: str, path: str, version: str = "2.11") -> ApiResponse:
    request = ApiRequest(method, path, headers={"intercom-version": version})
    return router.dispatch(IntercomBackend(SandboxState()), request)


def test_dispatch_renders_named_errors_with_their_status_code_and_headers() -> None:
    router = Router()

    @router.route("GET", "/contacts/{contact_id}")
    def merged(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        raise ContactMerged(params["contact_id"] + "-canonical")

    response = _dispatch(router, "GET", "/contacts/a%20b")
    assert (response.status, response.content_type) == (410, "application/json")
    assert response.headers == {"Link": '</contacts/a b-canonical>; rel="canonical"'}
    body = json.loads(response.payload)
    assert body["errors"] == [{"code": "contact_merged", "message": ContactMerged.message}]


def test_joined_routers_keep_every_route_and_since_hides_newer_ones() -> None:
    first, second = Router(), Router()
    first.route("GET", "/old")(lambda backend, request, params: ok({"which": "old"}))
    second.route("GET", "/new", since=(2, 10))(lambda backend, request, params: ok({"which": "new"}))
    joined = Router(first, second)
    assert json.loads(_dispatch(joined, "GET", "/old").payload) == {"which": "old"}
    assert json.loads(_dispatch(joined, "GET", "/new", "2.10").payload) == {"which": "new"}
    assert _dispatch(joined, "GET", "/new", "2.9").status == 404
    assert _dispatch(joined, "POST", "/old").status == 404


def test_a_request_reads_its_version_query_and_json_body() -> None:
    request = ApiRequest("POST", "/x", {"a": ["1", "2"]}, b'{"k": 1}', {"intercom-version": " 2.16 "})
    assert (request.version, request.query_value("a"), request.query_value("b")) == ("2.16", "2", None)
    assert request.json_body() == {"k": 1}
    assert ApiRequest("GET", "/x").version == "2.11"
    with pytest.raises(ParameterInvalid, match="not valid JSON"):
        ApiRequest("POST", "/x", raw_body=b"{oops").json_body()
