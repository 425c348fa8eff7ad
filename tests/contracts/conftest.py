"""Fixtures for the contracts' suites beyond the shared ones (tests/conftest.py)."""

from __future__ import annotations

from attest_helpers import agent, make_agent, provider

__all__ = ["agent", "make_agent", "provider"]
