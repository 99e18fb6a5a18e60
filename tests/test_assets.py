"""The ``intercom://`` scheme: URIs of a tag's members, registered with Airflow on both lines."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from airflow_provider_intercom.assets.intercom import create_asset, sanitize_uri, tag_uri


def test_a_tag_uri_names_the_workspace_the_tag_and_the_objects():
    assert tag_uri("x1y2z3", "17") == "intercom://x1y2z3/tags/17/contacts"
    assert tag_uri("x1y2z3", "17", "companies") == "intercom://x1y2z3/tags/17/companies"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("intercom:///tags/17/contacts", r"the host must be the workspace's app id"),
        ("intercom://x1/tags/17", r"expected intercom://<app id>/tags/<tag id>/contacts\|companies"),
        ("intercom://x1/segments/17/contacts", r"expected intercom://"),
        ("intercom://x1/tags/17/tickets", r"'tickets' must be one of: contacts, companies"),
    ],
)
def test_a_malformed_uri_is_refused_naming_the_expected_form(uri, message):
    with pytest.raises(ValueError, match=message):
        sanitize_uri(urlsplit(uri))


def test_airflow_normalises_intercom_uris_through_the_provider():
    """Registered as asset-uris (Airflow 3) and dataset-uris (2.x): Airflow calls our handler."""
    from airflow.providers.common.compat.sdk import Asset

    assert Asset("intercom://X1Y2/tags/7/contacts/?view=all#top").uri == "intercom://x1y2/tags/7/contacts"


def test_the_factory_is_registered_and_makes_the_same_asset():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    factories = getattr(manager, "asset_factories", None) or manager.dataset_factories
    made = factories["intercom"](app_id="x1y2", tag_id="7", extra={"added": 3})
    assert made == create_asset(app_id="x1y2", tag_id="7", extra={"added": 3})
    assert made.uri == "intercom://x1y2/tags/7/contacts"
    assert made.extra == {"added": 3}
