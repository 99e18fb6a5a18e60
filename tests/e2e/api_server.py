"""
Run ``airflow api-server`` with the fix of apache/airflow#73298 applied when the installed Airflow lacks it.

Airflow 3.3.2's UI sends ``port: Number(connection.port)`` when the Test button of a saved connection is
pressed, so a connection with no port (every Intercom connection: the form hides the port) is tested with
``port: 0``. The API compares that with the stored NULL, decides that the destination changed, and answers
400 "Bad Request" without calling the hook. apache/airflow#73298 (merged upstream, not in 3.3.2) makes the
comparison treat 0 as no port. This script applies the same one-line change to the API server it starts, so
the e2e test can reach the provider's ``test_connection``; on an Airflow that has the fix it changes nothing.
``tests/e2e/test_connection_form.py::test_test_button_on_stock_airflow`` shows what the unpatched server does.

Usage: ``python tests/e2e/api_server.py <airflow api-server arguments>``.
"""

from __future__ import annotations

import sys


def _same_endpoint(requested: str | int | None, stored: str | int | None) -> bool:
    """Return True when the requested and stored host or port name the same destination (0 = no port)."""

    def normalised(value: str | int | None) -> str | int | None:
        return None if value is None or value == "" or value == 0 else value

    return normalised(requested) == normalised(stored)


def needs_backport() -> bool:
    """Return True when the installed Airflow takes a port of 0 for a different destination than none."""
    from airflow.api_fastapi.core_api.routes.public import connections

    return not connections._same_endpoint(0, None)


def main() -> None:
    """Patch the route module when needed, then run ``airflow api-server`` in this process."""
    from airflow.__main__ import main as airflow_main
    from airflow.api_fastapi.core_api.routes.public import connections

    if needs_backport():
        # The route looks the helper up at call time; with one worker, uvicorn serves from this process.
        connections._same_endpoint = _same_endpoint
        print("e2e: applied the fix of apache/airflow#73298 (port 0 = no port)", flush=True)
    sys.argv = ["airflow", "api-server", *sys.argv[1:]]
    airflow_main()


if __name__ == "__main__":
    main()
