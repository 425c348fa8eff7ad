"""Fake PCI sysfs trees for the discovery tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PciDevice = dict[str, Any]


@pytest.fixture
def make_sysfs(tmp_path: Path) -> Callable[..., Path]:
    """Build ``<root>/sys/bus/pci/devices/<bdf>/{class,vendor,device,...}`` and return root."""

    def build(*devices: PciDevice, root_name: str = "root") -> Path:
        root = tmp_path / root_name
        base = root / "sys" / "bus" / "pci" / "devices"
        base.mkdir(parents=True, exist_ok=True)
        drivers = root / "sys" / "bus" / "pci" / "drivers"
        for d in devices:
            node = base / d["bdf"]
            node.mkdir()
            for field in ("class", "vendor", "device", "subsystem_vendor", "subsystem_device"):
                if field in d:
                    (node / field).write_text(f"{d[field]}\n")
            (node / "revision").write_text(d.get("revision", "0xa1") + "\n")
            if d.get("driver"):
                target = drivers / d["driver"]
                target.mkdir(parents=True, exist_ok=True)
                (node / "driver").symlink_to(target)
        return root

    return build
