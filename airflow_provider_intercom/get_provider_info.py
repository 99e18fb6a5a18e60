"""Provider metadata read by Airflow's provider discovery; it must import nothing."""

from __future__ import annotations

import copy
from typing import Any

# The hook takes its defaults from CONN_FIELDS; tests check its region URLs cover exactly _REGIONS.
_REGIONS = ["us", "eu", "au"]
_DEFAULT_API_VERSION = "2.11"

# The connection form, declared once. Airflow 3 reads it from the provider info below; Airflow 2.11
# reads the hook's get_connection_form_widgets() and get_ui_field_behaviour(), built from these.
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
        "schema": {"type": ["string", "null"], "enum": _REGIONS, "default": "us"},
    },
    "api_version": {
        "label": "API version",
        "description": "Sent as the Intercom-Version header: 2.0 to 2.16, or Preview.",
        "schema": {"type": ["string", "null"], "default": _DEFAULT_API_VERSION},
    },
}


def get_provider_info() -> dict[str, Any]:
    """Return the provider-info dict that the ``apache_airflow_provider`` entry point points at."""
    return {
        "package-name": "airflow-provider-intercom",
        "name": "Intercom",
        "description": "`Intercom <https://www.intercom.com/>`__ tags: bulk tag and untag contacts and "
        "companies, list tags, and wait for a tag.",
        "integrations": [
            {
                "integration-name": "Intercom",
                "external-doc-url": "https://developers.intercom.com/docs/references/rest-api/api.intercom.io/tags",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": "Intercom", "python-modules": ["airflow_provider_intercom.hooks.intercom"]}
        ],
        "operators": [
            {
                "integration-name": "Intercom",
                "python-modules": [
                    "airflow_provider_intercom.operators.tags",
                    "airflow_provider_intercom.operators.contacts",
                    "airflow_provider_intercom.operators.companies",
                    "airflow_provider_intercom.operators.conversations",
                    "airflow_provider_intercom.operators.sync",
                ],
            }
        ],
        "sensors": [
            {"integration-name": "Intercom", "python-modules": ["airflow_provider_intercom.sensors.tags"]}
        ],
        "triggers": [
            {"integration-name": "Intercom", "python-modules": ["airflow_provider_intercom.triggers.tags"]}
        ],
        # Airflow 2.11's webserver rebuilds a task's links only from classes registered here.
        "extra-links": ["airflow_provider_intercom.links.tags.IntercomTagLink"],
        "connection-types": [
            {
                "connection-type": "intercom",
                "hook-class-name": "airflow_provider_intercom.hooks.intercom.IntercomHook",
                "hook-name": "Intercom",
                # Copies: whoever reads the provider info must not change the hook's form.
                "ui-field-behaviour": copy.deepcopy(UI_FIELD_BEHAVIOUR),
                "conn-fields": copy.deepcopy(CONN_FIELDS),
            }
        ],
    }
