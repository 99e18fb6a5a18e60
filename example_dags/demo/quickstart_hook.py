"""
Quickstart: the IntercomHook on its own, outside a DAG.

Lists the workspace's tags, creates (or reuses) the tag "churn-risk" and applies it to the first
contact whose email matches, then reads the contact's tags back. It talks to whatever the
``intercom_default`` connection points at: ``make demo`` points it at the bundled sandbox.

Run it with ``python example_dags/quickstart_hook.py [email]``.
"""

from __future__ import annotations

import sys

from airflow_provider_intercom.hooks.intercom import IntercomHook

TAG_NAME = "churn-risk"


def main(email: str) -> int:
    hook = IntercomHook()
    settings = hook.settings
    print(f"Intercom at {settings.base_url} (region {settings.region}, API {settings.api_version})")

    tags = hook.list_tags()
    print(f"{len(tags)} tags before: {', '.join(sorted(tag['name'] for tag in tags)) or '(none)'}")

    tag = hook.create_or_update_tag(TAG_NAME)
    print(f"Tag {tag['name']!r} has id {tag['id']}")

    matches = list(hook.search_contacts({"field": "email", "operator": "=", "value": email}))
    if not matches:
        print(f"No contact has the email {email!r}; nothing tagged.")
        return 1
    contact = matches[0]
    applied = hook.tag_contact(contact["id"], tag["id"])
    print(f"Applied {applied['name']!r} to contact {contact['id']} ({email})")

    carried = sorted(t["name"] for t in hook.list_contact_tags(contact["id"]))
    print(f"Contact {contact['id']} now carries: {', '.join(carried)}")
    return 0 if TAG_NAME in carried else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "alice@example.com"))
