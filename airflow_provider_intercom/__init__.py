"""Apache Airflow provider for Intercom tags."""

from __future__ import annotations

__version__ = "0.1.0"
