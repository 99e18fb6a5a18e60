"""
A local fake of Intercom's REST API (tags, contacts, companies, search, /me), standard library only.

Start one with ``IntercomSandbox().start()``, ``python -m airflow_provider_intercom.sandbox`` or the
``intercom_sandbox`` pytest fixture. It shares no code with the provider it is used to test.
"""

from __future__ import annotations

from airflow_provider_intercom.sandbox.app import IntercomSandbox

__all__ = ["IntercomSandbox"]
