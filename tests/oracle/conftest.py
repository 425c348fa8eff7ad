"""Fixtures for the oracle node and the agent daemon (the attestation helpers are shared with
the contract's suite)."""

from __future__ import annotations

from attest_helpers import make_agent

__all__ = ["make_agent"]
