"""
Tag every user in a workspace, in mapped chunks that share the workspace's rate limit.

A list of thousands of ids is split with ``chunk_ids`` and one ``TagContactsOperator`` is mapped
over each chunk: each mapped task is small, retried on its own, and reports its own items, and
``chunk_ids`` keeps the number of mapped tasks under Airflow's ``[core] max_map_length``.

Intercom's rate limit is per workspace, so every mapped task spends the same budget. The tagging
tasks run in the Airflow pool ``intercom``, whose size caps how many of them call Intercom at once,
wherever they run: create it once per deployment, one slot per concurrent caller you allow the
workspace (``airflow pools set intercom 4 "Intercom workspace budget"``).
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_intercom.hooks.intercom import IntercomHook
from airflow_provider_intercom.operators.tags import TagContactsOperator, chunk_ids

CHUNK_SIZE = 500  # ids per mapped task; each task still sends Intercom batches of 50
INTERCOM_POOL = "intercom"  # one pool per workspace: its slots share the workspace's rate limit

with DAG(
    dag_id="intercom_bulk_mapped",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["intercom", "example"],
    params={
        "tag_name": "newsletter",
        "chunk_size": Param(CHUNK_SIZE, type="integer", minimum=1, description="ids per mapped task"),
    },
    doc_md=__doc__,
):

    @task
    def all_user_ids() -> list[str]:
        """Every user's contact id (leads excluded), through the contact search."""
        query = {"field": "role", "operator": "=", "value": "user"}
        return [contact["id"] for contact in IntercomHook().search_contacts(query, per_page=150)]

    @task
    def split(ids: list[str], params: dict | None = None) -> list[list[str]]:
        return chunk_ids(ids, size=int((params or {}).get("chunk_size", CHUNK_SIZE)))

    TagContactsOperator.partial(
        task_id="tag_users", tag_name="{{ params.tag_name }}", pool=INTERCOM_POOL
    ).expand(contact_ids=split(all_user_ids()))
