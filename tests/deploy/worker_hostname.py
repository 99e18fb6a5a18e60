"""
``[core] hostname_callable`` of the deployment test's Celery workers: both run on this one machine, so
each names itself from ``DEPLOY_WORKER_NAME`` and the task instances say which worker ran them.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """Return this worker's name, or the machine's when the variable is unset."""
    return os.environ.get("DEPLOY_WORKER_NAME") or socket.getfqdn()
