"""
Tag every user in a workspace, in mapped chunks.

A list of thousands of ids is split with ``chunk_ids`` and one ``TagContactsOperator`` is mapped
over each chunk: each mapped task is small, retried on its own, and reports its own items, and
``chunk_ids`` keeps the number of mapped tasks under Airflow's ``[core] max_map_length``.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_intercom.hooks.intercom import IntercomHook
from airflow_provider_intercom.operators.tags import TagContactsOperator, chunk_ids

CHUNK_SIZE = 500  # ids per mapped task; each task still sends Intercom batches of 50

with DAG(
    dag_id="intercom_bulk_mapped",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["intercom", "example"],
    params={"tag_name": "newsletter"},
    doc_md=__doc__,
):

    @task
    def all_user_ids() -> list[str]:
        """Every user's contact id (leads excluded), through the contact search."""
        query = {"field": "role", "operator": "=", "value": "user"}
        return [contact["id"] for contact in IntercomHook().search_contacts(query, per_page=150)]

    @task
    def split(ids: list[str]) -> list[list[str]]:
        return chunk_ids(ids, size=CHUNK_SIZE)

    TagContactsOperator.partial(task_id="tag_users", tag_name="{{ params.tag_name }}").expand(
        contact_ids=split(all_user_ids())
    )
