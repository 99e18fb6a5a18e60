"""The DAG of the README's "Testing your DAGs with the sandbox" example (tests/test_readme_example.py)."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_intercom.operators.tags import TagContactsOperator

with DAG("my_churn_dag", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):

    @task
    def churn_risk_emails() -> list[str]:
        return ["alice@example.com", "nobody@example.com"]

    TagContactsOperator(
        task_id="tag_churn_risk", tag_name="churn-risk", emails=churn_risk_emails(), max_failed_ratio=0.5
    )
