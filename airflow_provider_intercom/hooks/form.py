"""
The connection form as Airflow 2.11's Flask UI wants it, built from the declaration in ``_connection_form``.

Airflow 3 builds its form from the provider info and never calls this; wtforms and flask are
imported only when the form is built, since Airflow 3 does not install them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from airflow_provider_intercom._connection_form import CONN_FIELDS, UI_FIELD_BEHAVIOUR


def connection_form_widgets() -> dict[str, Any]:
    """Return the form's extra fields (region, api_version): text fields, region as a drop-down."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import StringField

    widgets = {}
    for name, spec in CONN_FIELDS.items():
        schema = spec["schema"]
        widgets[name] = StringField(
            lazy_gettext(spec["label"]),
            description=spec["description"],
            default=schema.get("default"),
            widget=_choice_widget(schema["enum"]) if "enum" in schema else BS3TextFieldWidget(),
        )
    return widgets


def ui_field_behaviour() -> dict[str, Any]:
    """Return which standard fields the form hides, relabels and fills with hints, as a copy."""
    return {key.replace("-", "_"): copy.deepcopy(value) for key, value in UI_FIELD_BEHAVIOUR.items()}


def _choice_widget(choices: Sequence[str]) -> Callable[..., Any]:
    """
    Return a wtforms widget that draws a text field as a drop-down of ``choices``.

    Airflow 2.11 drops a hook whose form has a ``SelectField``: it takes only string, password,
    integer and boolean fields. A value outside ``choices`` (a connection written by hand) is kept
    as one more option, so saving the form never changes it silently.

    :param choices: the values offered, each shown as its own label.
    """
    from markupsafe import Markup, escape
    from wtforms.widgets import html_params

    def render(field: Any, **kwargs: Any) -> Markup:
        kwargs.setdefault("id", field.id)
        kwargs.setdefault("class", kwargs.pop("class_", "form-control"))  # styled like the text fields
        current = str(field.data or "").strip()
        known = current.lower() in choices
        options = [*choices] if known or not current else [*choices, current]
        selected = current.lower() if known else current
        rendered = "".join(
            f"<option {html_params(value=value, selected=value == selected)}>{escape(value)}</option>"
            for value in options
        )
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{rendered}</select>")

    return render
