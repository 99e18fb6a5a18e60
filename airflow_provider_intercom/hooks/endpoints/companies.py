"""Company endpoints: find a company by your id or Intercom's, and list the companies with a tag."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_intercom._validation import validate_id
from airflow_provider_intercom.exceptions import IntercomNotFoundError
from airflow_provider_intercom.hooks.endpoints.base import EndpointGroup, path_segment
from airflow_provider_intercom.hooks.pages import numbered_pages


class CompanyEndpoints(EndpointGroup):
    """The hook's ``/companies`` methods; tagging companies goes through ``POST /tags`` instead."""

    def find_company(self, company_id: str) -> dict[str, Any]:
        """
        Return the company with your ``company_id`` (``GET /companies?company_id=``).

        :param company_id: your id for the company (not Intercom's).
        :raises IntercomNotFoundError: when no company has it.
        """
        answer = self._request(
            "GET", "/companies", params={"company_id": validate_id(company_id, "company_id")}
        )
        if answer.get("type") != "list":
            return answer
        if not answer.get("data"):
            raise IntercomNotFoundError(
                404, "company_not_found", "Company Not Found", method="GET", path="/companies"
            )
        return answer["data"][0]

    def get_company(self, company_id: str) -> dict[str, Any]:
        """
        Return the company with this Intercom id (``GET /companies/{id}``).

        :param company_id: Intercom's id for the company.
        """
        return self._request("GET", f"/companies/{path_segment(company_id, 'company_id')}")

    def list_companies(
        self, tag_id: str | None = None, segment_id: str | None = None, per_page: int = 50
    ) -> Iterator[dict[str, Any]]:
        """
        Yield the companies carrying a tag, or in a segment, page by page (``GET /companies``).

        :param tag_id: the tag's Intercom id.
        :param segment_id: a segment's Intercom id.
        :param per_page: companies per page.
        """
        params: dict[str, Any] = {"per_page": per_page}
        if tag_id is not None:
            params["tag_id"] = validate_id(tag_id, "tag_id")
        if segment_id is not None:
            params["segment_id"] = validate_id(segment_id, "segment_id")
        yield from numbered_pages(
            lambda page: self._request("GET", "/companies", params={**params, "page": page})
        )
