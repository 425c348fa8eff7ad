"""Simulated hardware: GPUs replayed from a recording on a host that lacks them.

A demo fleet (``depin up --demo-fleet N``) runs agents that replay a recorded host. Their
attestations say so on-chain: the attested model id carries the prefix ``sim:``
(``sim:nvidia-h100-sxm5-80gb``), which travels in the ``GpuAttested`` event into the indexer,
the API and the web page. Oracles accept such models only when configured to
(``DEPIN_ORACLE_ALLOW_SIMULATED=true``) and only on a dev chain.
"""

from __future__ import annotations

from depin.settings import DEV_CHAIN_IDS

SIM_PREFIX = "sim:"

__all__ = ["SIM_PREFIX", "is_simulated", "real_model", "simulated_allowed", "simulated_model"]


def simulated_model(model_id: str) -> str:
    """The model id an agent attests for a replayed GPU of ``model_id``."""
    return model_id if model_id.startswith(SIM_PREFIX) else SIM_PREFIX + model_id


def is_simulated(model_id: str) -> bool:
    return model_id.startswith(SIM_PREFIX)


def real_model(model_id: str) -> str:
    """The spec-table model under a (possibly) simulated id."""
    return model_id[len(SIM_PREFIX) :] if is_simulated(model_id) else model_id


def simulated_allowed(enabled: bool, chain_id: int) -> bool:
    """Simulated GPUs are accepted only when enabled and only on a dev chain (31337, 1337)."""
    return enabled and chain_id in DEV_CHAIN_IDS
