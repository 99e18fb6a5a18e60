"""
The connection form, declared once; standard library only, so provider discovery stays cheap.

Airflow 3 reads it from the provider info; Airflow 2.11 reads the hook's
``get_connection_form_widgets()`` and ``get_ui_field_behaviour()``, built from it. The hook applies
the defaults to connections that omit a value.
"""

from __future__ import annotations

from typing import Any

# Tests check that the hook's region URLs cover exactly these.
REGIONS = ["us", "eu", "au"]
DEFAULT_CONN_ID = "intercom_default"
DEFAULT_REGION = "us"
DEFAULT_API_VERSION = "2.11"

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["login", "schema", "port"],
    "relabeling": {"password": "Access token", "host": "Base URL (optional)"},
    "placeholders": {
        "host": "leave empty to use the region's URL, e.g. https://api.eu.intercom.io",
        "password": "Intercom access token",
    },
}
CONN_FIELDS: dict[str, Any] = {
    "region": {
        "label": "Region",
        "description": "Where the workspace is hosted: us, eu or au.",
        "schema": {"type": ["string", "null"], "enum": REGIONS, "default": DEFAULT_REGION},
    },
    "api_version": {
        "label": "API version",
        "description": "Sent as the Intercom-Version header: 2.0 to 2.16, or Preview.",
        "schema": {"type": ["string", "null"], "default": DEFAULT_API_VERSION},
    },
}
