"""Fixtures for the proof-of-compute suites."""

from __future__ import annotations

import pytest
from proof_helpers import MakeOracle, new_oracle


@pytest.fixture
def make_oracle() -> MakeOracle:
    """``make_oracle(policy=..., clock=..., seed=...)``: see :func:`proof_helpers.new_oracle`."""
    return new_oracle
