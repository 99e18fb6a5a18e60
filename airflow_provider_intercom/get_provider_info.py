"""Provider metadata read by Airflow's provider discovery; it must import nothing heavy."""

from __future__ import annotations

import copy
from typing import Any

# The connection form is declared there, for the hook and for the provider info below.
from airflow_provider_intercom._connection_form import CONN_FIELDS, UI_FIELD_BEHAVIOUR

# The hook, and the modules it is built from.
_HOOK_MODULES = [
    "airflow_provider_intercom.hooks.intercom",
    "airflow_provider_intercom.hooks.settings",
    "airflow_provider_intercom.hooks.form",
    "airflow_provider_intercom.hooks.transport",
    "airflow_provider_intercom.hooks.pacing",
    "airflow_provider_intercom.hooks.pages",
    "airflow_provider_intercom.hooks.bodies",
    "airflow_provider_intercom.hooks.matching",
    "airflow_provider_intercom.hooks.endpoints.base",
    "airflow_provider_intercom.hooks.endpoints.tags",
    "airflow_provider_intercom.hooks.endpoints.contacts",
    "airflow_provider_intercom.hooks.endpoints.companies",
    "airflow_provider_intercom.hooks.endpoints.conversations",
]

_ASSETS = "airflow_provider_intercom.assets.intercom"
_TAG_URIS = {
    "schemes": ["intercom"],
    "handler": f"{_ASSETS}.sanitize_uri",
    "factory": f"{_ASSETS}.create_asset",
    "to_openlineage_converter": f"{_ASSETS}.convert_asset_to_openlineage",
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
        "hooks": [{"integration-name": "Intercom", "python-modules": list(_HOOK_MODULES)}],
        "operators": [
            {
                "integration-name": "Intercom",
                "python-modules": [
                    "airflow_provider_intercom.operators.tags",
                    "airflow_provider_intercom.operators.contacts",
                    "airflow_provider_intercom.operators.companies",
                    "airflow_provider_intercom.operators.conversations",
                    "airflow_provider_intercom.operators.sync",
                    "airflow_provider_intercom.operators.apply_plan",
                ],
            }
        ],
        "sensors": [
            {"integration-name": "Intercom", "python-modules": ["airflow_provider_intercom.sensors.tags"]}
        ],
        "triggers": [
            {"integration-name": "Intercom", "python-modules": ["airflow_provider_intercom.triggers.tags"]}
        ],
        # The intercom:// scheme: Assets on Airflow 3, Datasets on 2.x, one module for both.
        "asset-uris": [dict(_TAG_URIS)],
        "dataset-uris": [dict(_TAG_URIS)],
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
