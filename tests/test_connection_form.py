"""
The connection form on both Airflow lines.

Airflow 3 builds the form from the provider info's ``conn-fields`` and ``ui-field-behaviour``;
Airflow 2.11's UI reads the hook's ``get_connection_form_widgets()`` and
``get_ui_field_behaviour()`` instead. Both must offer the same form.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from typing import Any

import pytest
from packaging.version import Version

from airflow_provider_intercom.get_provider_info import get_provider_info
from airflow_provider_intercom.hooks.intercom import IntercomHook

NO_WTFORMS = importlib.util.find_spec("wtforms") is None
AIRFLOW_3 = Version(version("apache-airflow")) >= Version("3")


def declared() -> dict[str, Any]:
    """The connection type as the provider info declares it, which is what Airflow 3 reads."""
    (conn_type,) = get_provider_info()["connection-types"]
    return conn_type


def test_form_methods_are_defined_on_the_hook_itself():
    # Airflow 2.11 looks the methods up in the class's own __dict__, not through inheritance.
    assert "get_connection_form_widgets" in vars(IntercomHook)
    assert "get_ui_field_behaviour" in vars(IntercomHook)


def test_ui_field_behaviour_matches_provider_info():
    behaviour = IntercomHook.get_ui_field_behaviour()
    expected = declared()["ui-field-behaviour"]
    assert set(behaviour) == {key.replace("-", "_") for key in expected}
    assert sorted(behaviour["hidden_fields"]) == sorted(expected["hidden-fields"])
    assert behaviour["relabeling"] == expected["relabeling"]
    assert behaviour["placeholders"] == expected["placeholders"]
    # The hook hands out copies: changing one must not change the provider info.
    behaviour["relabeling"]["password"] = "changed"
    assert IntercomHook.get_ui_field_behaviour()["relabeling"] == expected["relabeling"]


def options(html: str) -> tuple[list[str], list[str]]:
    """Return the values of a rendered ``<select>``, and those of them marked selected."""
    values, selected = [], []
    for attributes in re.findall(r"<option ([^>]*)>", html):
        value = re.search(r'value="([^"]*)"', attributes)
        assert value, attributes
        values.append(value.group(1))
        if re.search(r"\bselected\b", attributes):
            selected.append(value.group(1))
    return values, selected


@pytest.mark.skipif(NO_WTFORMS, reason="wtforms is not installed with Airflow 3")
def test_widgets_match_conn_fields():
    from wtforms import Form, StringField

    widgets = IntercomHook.get_connection_form_widgets()
    fields = declared()["conn-fields"]
    assert sorted(widgets) == sorted(fields)
    form = type("ConnectionForm", (Form,), dict(widgets))()
    for name, spec in fields.items():
        # Airflow 2.11 drops the whole hook if a widget is not one of its four plain field classes.
        assert widgets[name].field_class is StringField
        field = form[name]
        assert str(field.label.text) == spec["label"]
        assert field.description == spec["description"]
        assert field.data == spec["schema"]["default"]
    values, selected = options(form["region"]())
    assert values == fields["region"]["schema"]["enum"]
    assert selected == [fields["region"]["schema"]["default"]]
    assert "<select" not in form["api_version"]()  # a free text field


@pytest.mark.skipif(NO_WTFORMS, reason="wtforms is not installed with Airflow 3")
@pytest.mark.parametrize(
    ("stored", "offered", "shown"),
    [
        ("eu", ["us", "eu", "au"], "eu"),
        (" AU ", ["us", "eu", "au"], "au"),  # the hook reads it as "au": so does the form
        ("mars", ["us", "eu", "au", "mars"], "mars"),  # kept, so saving the form does not change it
    ],
)
def test_region_select_shows_the_stored_value(stored, offered, shown):
    from wtforms import Form

    form_class = type("ConnectionForm", (Form,), dict(IntercomHook.get_connection_form_widgets()))
    assert options(form_class(data={"region": stored})["region"]()) == (offered, [shown])


def test_airflow_reads_the_form_without_deprecation_warnings():
    """
    Ask Airflow's own provider discovery, in a fresh interpreter, what form it builds.

    On Airflow 3 the hook's methods exist but are not called while the provider info declares the
    form, so no AirflowProviderDeprecationWarning; on 2.11 the form comes from the methods.
    """
    code = """
import json, warnings
from airflow.providers_manager import ProvidersManager

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    manager = ProvidersManager()
    hook = manager.hooks["intercom"]
    widgets = {
        name: getattr(getattr(widget.field, "field_class", None), "__name__", None)
        for name, widget in manager.connection_form_widgets.items()
        if name.startswith("extra__intercom__")
    }
    behaviour = manager.field_behaviours.get("intercom")
print(json.dumps({
    "hook": hook.hook_class_name if hook else None,
    "widgets": widgets,
    "behaviour": behaviour,
    "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen["hook"] == "airflow_provider_intercom.hooks.intercom.IntercomHook"
    assert sorted(seen["widgets"]) == sorted(f"extra__intercom__{name}" for name in declared()["conn-fields"])
    if not NO_WTFORMS:  # Airflow 2.11 keeps the wtforms field, Airflow 3 a JSON-schema description
        assert set(seen["widgets"].values()) == {"StringField"}
    assert seen["behaviour"] == IntercomHook.get_ui_field_behaviour()
    ours = [
        warning
        for warning in seen["warnings"]
        if warning.startswith("AirflowProviderDeprecationWarning") or "intercom" in warning.lower()
    ]
    assert ours == []


# Drives Airflow 2.11's own Flask connection pages: add an Intercom connection through the form, read
# back what was stored, and open it again for editing.
FAB_ROUND_TRIP = """
import json, re
from airflow.utils import db

db.initdb()
from airflow.models import Connection
from airflow.utils.session import create_session
from airflow.www.app import create_app

app = create_app(testing=True)
app.config["WTF_CSRF_ENABLED"] = False
security = app.appbuilder.sm
security.add_user("admin", "a", "b", "admin@example.com", security.find_role("Admin"), "admin")
client = app.test_client()
client.post("/login/", data={"username": "admin", "password": "admin"})

def region_select(page):
    return re.search(r'<select[^>]*name="extra__intercom__region".*?</select>', page, re.S).group(0)

added = client.get("/connection/add").get_data(as_text=True)
client.post("/connection/add", data={
    "conn_id": "intercom_form", "conn_type": "intercom", "password": "form-token",
    "extra__intercom__region": "eu", "extra__intercom__api_version": "2.16",
})
with create_session() as session:
    connection = session.query(Connection).filter_by(conn_id="intercom_form").one()
    stored, connection_id = connection.extra_dejson, connection.id
edited = client.get(f"/connection/edit/{connection_id}").get_data(as_text=True)
print(json.dumps({
    "add_region": region_select(added),
    "add_api_version": re.search(r'<input[^>]*name="extra__intercom__api_version"[^>]*>', added).group(0),
    "stored": stored,
    "edit_region": region_select(edited),
}))
"""


@pytest.mark.skipif(AIRFLOW_3, reason="Airflow 3 has no Flask connection form: its UI reads conn-fields")
def test_airflow_2_connection_form_stores_and_shows_the_fields(tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", FAB_ROUND_TRIP],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.splitlines()[-1])
    region = declared()["conn-fields"]["region"]["schema"]
    assert options(seen["add_region"]) == (region["enum"], [region["default"]])
    assert 'value="2.11"' in seen["add_api_version"]
    # Stored under the plain names the hook reads, not the form's extra__intercom__ prefix.
    assert seen["stored"] == {"region": "eu", "api_version": "2.16"}
    assert options(seen["edit_region"]) == (region["enum"], ["eu"])
