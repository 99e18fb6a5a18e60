"""
The sandbox's REST routes, one module per resource, joined into one :data:`router`.

Each handler parses its request, calls the backend (which makes every change) and renders the answer.
To add an endpoint, write a handler in its resource's module and decorate it with
``@router.route("METHOD", "/path/{param}")``; ``since=(2, 10)`` hides it from older ``Intercom-Version``s.
"""

from __future__ import annotations

from airflow_provider_intercom.sandbox.routes import companies, contacts, conversations, me, tags
from airflow_provider_intercom.sandbox.routing import Router

# At most one route matches a method and path, so the order only keeps the old listing's.
router = Router(tags.router, contacts.router, conversations.router, companies.router, me.router)

__all__ = ["router"]
