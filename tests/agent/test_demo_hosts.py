"""Every demo host `depin up --demo-fleet` starts is one the agent can replay: the backend name
it passes is one the agent knows, and discovery finds the recorded GPUs (the Intel host once
never started, for a backend spelled `xpusmi`)."""

from __future__ import annotations

import pytest

from agent.cli import _backends
from agent.discovery import discover
from depin._cli.up import DEMO_HOSTS, FIXTURES, HEALTH_FIXTURES


@pytest.mark.parametrize(("backend", "recording", "health"), DEMO_HOSTS)
def test_each_demo_host_replays_its_gpus(backend: str, recording: str, health: str | None) -> None:
    inventory = discover(_backends((f"{backend}={FIXTURES / recording}",)), sysfs_root=None)
    replayed = [g for g in inventory.gpus if g.status == "ok"]
    assert replayed, f"{backend}={recording}: {[r.reason for r in inventory.backends]}"
    assert {g.vendor for g in replayed} == {
        {"nvml": "nvidia", "amdsmi": "amd", "xpu-smi": "intel"}[backend]
    }
    if health is not None:
        assert (HEALTH_FIXTURES / health).is_file()
