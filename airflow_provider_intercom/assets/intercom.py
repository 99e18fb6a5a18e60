"""
The ``intercom://`` scheme: who carries a tag in a workspace, as an Airflow Asset and an OpenLineage dataset.

::

    intercom://<app id>/tags/<tag id>/contacts
    intercom://<app id>/tags/<tag id>/companies

The host is the workspace's app id (``app.id_code`` of ``GET /me``, the id in its web app's URLs): tag
ids are unique within a workspace only. Ids, not names, because a tag can be renamed. Airflow
normalises every ``intercom://`` URI through :func:`sanitize_uri` (registered as ``asset-uris`` and, for
Airflow 2.x, ``dataset-uris`` in the provider info).

OpenLineage has no naming rule for SaaS APIs yet. This follows the proposal of OpenLineage issue #4360:
the tenant in the namespace (``intercom://<app id>``), the entity's path in the name
(``tags/<tag id>/contacts``).

This module imports nothing of the provider's runtime: Airflow loads it to normalise URIs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from urllib.parse import SplitResult

SCHEME = "intercom"
OBJECTS = ("contacts", "companies")
_PATH = re.compile(r"^/tags/(?P<tag_id>[^/]+)/(?P<objects>[^/]+)$")
_APP_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def tag_uri(app_id: str, tag_id: str, objects: str = "contacts") -> str:
    """
    Return the URI of a tag's contacts (or companies) in a workspace.

    :param app_id: the workspace's app id.
    :param tag_id: the tag's id.
    :param objects: ``contacts`` or ``companies``.
    :raises ValueError: naming the part that is not valid.
    """
    uri = f"{SCHEME}://{app_id}/tags/{tag_id}/{objects}"
    _check(str(app_id), f"/tags/{tag_id}/{objects}", uri)
    return uri


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """
    Check and normalise an ``intercom://`` URI, as Airflow asks of a scheme's handler.

    The app id is lower-cased (Intercom's are), and query and fragment are dropped.

    :param uri: the URI, split; Airflow has already removed trailing slashes.
    :raises ValueError: naming what is wrong and the expected form.
    """
    _check(uri.netloc, uri.path, uri.geturl())
    return uri._replace(netloc=uri.netloc.lower(), query="", fragment="")


def _check(app_id: str, path: str, uri: str) -> None:
    form = f"{SCHEME}://<app id>/tags/<tag id>/{'|'.join(OBJECTS)}"
    if not app_id or not _APP_ID.match(app_id):
        raise ValueError(f"{uri!r}: the host must be the workspace's app id; expected {form}")
    match = _PATH.match(path)
    if match is None:
        raise ValueError(f"{uri!r}: expected {form}")
    if match["objects"] not in OBJECTS:
        raise ValueError(f"{uri!r}: {match['objects']!r} must be one of: {', '.join(OBJECTS)}")


def create_asset(
    *, app_id: str, tag_id: str, objects: str = "contacts", extra: dict[str, Any] | None = None
) -> Any:
    """
    Return the Asset (a Dataset on Airflow 2.x) of a tag's contacts or companies.

    :param app_id: the workspace's app id.
    :param tag_id: the tag's id.
    :param objects: ``contacts`` or ``companies``.
    :param extra: the Asset's extra (never emails or ids: Airflow stores it in clear).
    """
    from airflow.providers.common.compat.sdk import Asset

    return Asset(uri=tag_uri(app_id, tag_id, objects), extra=extra)


def convert_asset_to_openlineage(asset: Any, lineage_context: Any = None) -> Any:
    """
    Return an ``intercom://`` Asset's OpenLineage dataset: namespace ``intercom://<app id>``, name its path.

    :param asset: the Asset (or Dataset).
    :param lineage_context: unused; Airflow passes it to every converter.
    """
    from urllib.parse import urlsplit

    from airflow.providers.common.compat.openlineage.facet import Dataset

    parts = urlsplit(asset.uri)
    return Dataset(namespace=f"{SCHEME}://{parts.netloc}", name=parts.path.lstrip("/"))
