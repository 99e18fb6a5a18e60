"""A DAG whose task records the "Intercom tag" link, run through ``dag.test()`` by tests/test_links.py."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_intercom.operators.tags import TagContactsOperator

with DAG(
    "intercom_tag_link", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False
):
    # region="eu" overrides the connection's us: the link must point at the EU web app.
    TagContactsOperator(
        task_id="tag_vip", tag_name="vip", emails=["alice@example.com", "bob@example.com"], region="eu"
    )
