"""The suite-wide token check itself: it must catch a leak, or it proves nothing."""

from __future__ import annotations

from tests.conftest import find_leaks


def test_leak_detector_finds_a_token():
    assert find_leaks("here", "Authorization: Bearer sk-123", {"sk-123", "other"}) == ["here: 'sk-123'"]
    assert find_leaks("here", "nothing to see", {"sk-123"}) == []


def test_sandbox_tokens_are_recorded(intercom_sandbox):
    from tests import conftest

    assert intercom_sandbox.token in conftest._tokens_in_use
