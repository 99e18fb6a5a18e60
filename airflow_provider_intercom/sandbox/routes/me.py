"""The route of ``/me``: the admin owning the access token."""

from __future__ import annotations

from airflow_provider_intercom.sandbox import render
from airflow_provider_intercom.sandbox.backend import IntercomBackend
from airflow_provider_intercom.sandbox.routing import ApiRequest, ApiResponse, Router, ok

router = Router()


@router.route("GET", "/me")
def identify_admin(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Return the admin owning the access token (``identifyAdmin``).

    :param backend: The sandbox backend.
    :param request: The request.
    :param params: Path parameters (none).
    :return: ``admin_with_app``.
    """
    return ok(render.admin_with_app(backend.state.primary_admin()))
