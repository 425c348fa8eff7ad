"""Fixtures for the contracts' suites beyond the shared ones (tests/conftest.py)."""

from __future__ import annotations

from attest_helpers import make_agent

__all__ = ["make_agent"]
