"""DAGs the end-to-end tests run through ``dag.test()`` against the sandbox (ids from the demo seed)."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_intercom.operators.tags import (
    ListTagsOperator,
    TagContactsOperator,
    UntagCompaniesOperator,
    chunk_ids,
)

START = pendulum.datetime(2026, 1, 1, tz="UTC")
ALICE, BOB, CAROL = "65a000000000000000000001", "65a000000000000000000002", "65a000000000000000000003"

with DAG("intercom_tag_tasks", schedule=None, start_date=START, catchup=False, params={"tag": "churn-risk"}):

    @task
    def export_contact_ids() -> list[str]:
        return [ALICE, BOB, "ghost-contact"]

    @task
    def export_chunks() -> list[list[str]]:
        return chunk_ids([ALICE, BOB, CAROL], size=2)

    tagged = TagContactsOperator(
        task_id="tag_churn_risk",
        tag_name="{{ params.tag }}",
        contact_ids=export_contact_ids(),
        emails=["carol@example.com"],
        max_failed_ratio=0.5,
    )
    mapped = TagContactsOperator.partial(task_id="tag_in_chunks", tag_name="mapped").expand(
        contact_ids=export_chunks()
    )
    untagged = UntagCompaniesOperator(
        task_id="untag_trial", tag_name="trial", company_external_ids=["initech", "acme"]
    )
    listed = ListTagsOperator(task_id="list_churn_tags", name_pattern="churn*")
    [tagged, mapped, untagged] >> listed


with DAG("intercom_tag_fails", schedule=None, start_date=START, catchup=False):
    TagContactsOperator(task_id="tag_strict", tag_name="strict", contact_ids=[ALICE, "ghost-contact"])
