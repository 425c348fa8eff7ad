"""Helpers of the API suites (imported by the test modules)."""

from __future__ import annotations

from typing import Any

SIWE_DOMAIN = "explorer.test"


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["type"] == "urn:depin:problem:" + code.replace("_", "-")
    assert body["status"] == status
    return body
