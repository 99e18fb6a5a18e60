"""The README's "Testing your DAGs with the sandbox" example, run as written (its DAG: tests/dags)."""

from __future__ import annotations

import os

from airflow.models import DagBag


def test_churn_dag_tags_the_exported_contacts(intercom_sandbox, dag_bag):
    # -- from the README; `dag_bag` only makes sure the metadata DB exists, as `airflow db migrate` would.
    alice = intercom_sandbox.state.add_contact(email="alice@example.com")
    dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag("my_churn_dag")
    run = dag.test()
    assert run.state == "success"  # dag.test() does not raise when a task fails: check the run
    churn = intercom_sandbox.state.find_tag_by_name("churn-risk")
    assert churn.id in alice.tags
    writes = [entry for entry in intercom_sandbox.requests if entry["method"] != "GET"]
    assert [(entry["method"], entry["path"]) for entry in writes] == [
        ("POST", "/contacts/search"),  # the emails, resolved to contacts
        ("POST", "/tags"),  # the tag, created
        ("POST", "/tags"),  # one bulk call for the contacts found
    ]
