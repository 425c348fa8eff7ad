"""Capability documents through the API, on SQLite and PostgreSQL: put only under a hash the
chain attested, shown on a GPU's detail, and the scheduler filters of ``/v1/gpus``.

Hosts attest on anvil, the real indexer mirrors them, documents go in over HTTP.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import assert_problem, postgres_database
from attest_helpers import new_attestation, submit_by
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from inventory_world import fresh_contracts, fund, new_indexer
from web3 import Web3

from api import ApiSettings, create_app
from api.db import read_only_engine
from depin.attestation import gpu_key, model_bytes
from depin.attestation_client import AttestationClient
from depin.capabilities import (
    CapabilityDocument,
    GpuCapabilities,
    HostCapabilities,
    MigInstanceCapabilities,
    NvlinkCapabilities,
    PcieCapabilities,
    canonical_bytes,
    document_hash,
)
from depin.crypto import to_hex
from depin.registry import Profile, RegistryClient
from indexer.service import Indexer
from oracle.capabilities import InventoryForwarder

pytestmark = pytest.mark.integration

GIB = 1 << 30
H100 = ("nvidia-h100-sxm5-80gb", 80 * GIB, 0x10DE)
L4 = ("nvidia-l4", 24 * GIB, 0x10DE)
MI300X = ("amd-mi300x", 192 * GIB, 0x1002)


def _gpu(key: bytes, slot: int, spec: tuple[str, int, int], **part: Any) -> GpuCapabilities:
    model, memory, vendor_id = spec
    return GpuCapabilities(
        slot=f"0000:{slot:02x}:00.0",
        gpu_key=to_hex(key),
        vendor="amd" if vendor_id == 0x1002 else "nvidia",
        model=model,
        memory_bytes=memory,
        **part,
    )


#: each host: its GPUs' spec, each GPU's part of the document, and the host part
HOSTS: dict[str, dict[str, Any]] = {
    # an HGX-like host: two NVLinked H100s, new driver and CUDA, Docker with the NVIDIA toolkit
    "hgx": {
        "spec": H100,
        "gpus": 2,
        "gpu": {
            "driver_version": "550.54.15",
            "cuda_version": "12.4",
            "compute_capability": "9.0",
            "pcie": PcieCapabilities(generation=5, width=16),
            "links": NvlinkCapabilities(kind="nvlink", links=18, active_links=18, version=4),
            "mig_enabled": False,
        },
        "host": {
            "cpu_cores": 224,
            "ram_gib": 2015,
            "disk_free_gib": 3500,
            "container_runtimes": ["docker", "nvidia-container-toolkit"],
        },
    },
    # a small host: one L4 on PCIe gen 4 with MIG on, CUDA 12.10 on an older driver, Podman
    "small": {
        "spec": L4,
        "gpus": 1,
        "gpu": {
            "driver_version": "535.104.05",
            "cuda_version": "12.10",
            "compute_capability": "8.9",
            "pcie": PcieCapabilities(generation=4, width=16),
            "mig_enabled": True,
            "mig_instances": [MigInstanceCapabilities(index=0, name="1g.6gb")],
        },
        "host": {
            "cpu_cores": 16,
            "ram_gib": 64,
            "disk_free_gib": 500,
            "container_runtimes": ["podman"],
        },
    },
    # an AMD host: one MI300X on xGMI with ROCm
    "amd": {
        "spec": MI300X,
        "gpus": 1,
        "gpu": {
            "driver_version": "6.7.0",
            "rocm_version": "6.2.0",
            "architecture": "gfx942",
            "pcie": PcieCapabilities(generation=5, width=16),
            "links": NvlinkCapabilities(kind="xgmi", links=7, active_links=7),
        },
        "host": {"cpu_cores": 192, "ram_gib": 1500, "disk_free_gib": 7000},
    },
    # attested with a document nobody has put
    "unsent": {
        "spec": H100,
        "gpus": 1,
        "gpu": {"driver_version": "560.28", "cuda_version": "12.6"},
        "host": {"cpu_cores": 999},
    },
    # attested without any document
    "plain": {"spec": H100, "gpus": 1, "gpu": None, "host": None},
}


@dataclass
class Fleet:
    """Hosts attested on a fresh pair of contracts, and the documents they named."""

    w3: Web3
    registry: RegistryClient
    oracle: AttestationClient
    contracts: dict[str, dict[str, Any]]
    deployer: LocalAccount
    oracles: list[LocalAccount]
    keys: dict[str, list[str]] = field(default_factory=dict)
    documents: dict[str, CapabilityDocument] = field(default_factory=dict)

    def attest_host(self, name: str, spec: dict[str, Any]) -> None:
        provider = fund(self.w3, Account.from_key(secrets.token_bytes(32)))
        agent: LocalAccount = Account.from_key(secrets.token_bytes(32))
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        self.registry.register(provider, Profile(f"{name} compute", "eu-west"))
        self.registry.authorize_agent(provider, agent.address, now + 10**7)
        keys = [gpu_key("nvidia", f"GPU-{secrets.token_hex(16)}") for _ in range(spec["gpus"])]
        capabilities = bytes(32)
        if spec["gpu"] is not None:
            document = CapabilityDocument(
                host=HostCapabilities(**spec["host"]),
                gpus=[_gpu(k, 0x18 + i, spec["spec"], **spec["gpu"]) for i, k in enumerate(keys)],
            )
            self.documents[name] = document
            capabilities = document_hash(document)
        model, memory, vendor_id = spec["spec"]
        messages = [
            new_attestation(
                self.w3,
                provider,
                agent,
                gpu_key=key,
                vendor_id=vendor_id,
                model=model_bytes(model),
                memory_bytes=memory,
                memory_bandwidth_gbps=3_000,
                measured_at=now - 10,
                expires_at=now + 86_400,
                capabilities=capabilities,
            )
            for key in keys
        ]
        receipt = submit_by(self.oracle, self.deployer, agent, messages, self.oracles[:2])
        assert not self.oracle.rejections(receipt)
        self.keys[name] = [to_hex(k) for k in keys]


def deploy_fleet(w3: Web3, home: Path) -> Fleet:
    return Fleet(w3, *fresh_contracts(w3, home))


@contextmanager
def api_over(fleet: Fleet, url: str, home: Path) -> Iterator[tuple[TestClient, Indexer]]:
    """The real indexer into ``url`` and the API over it (its state under ``home``)."""
    indexer = new_indexer(fleet.w3, fleet.contracts, url, home)
    indexer.sync()
    settings = ApiSettings(
        rpc_url=fleet.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        home=home,
        database_url=url,
        registry_address=fleet.registry.address,
    )
    app = create_app(settings, engine=read_only_engine(url))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, indexer
    finally:
        indexer.engine.dispose()


def put(client: httpx.Client, document: CapabilityDocument, key: str | None = None) -> Any:
    key = key or to_hex(document_hash(document))
    return client.put(f"/v1/capabilities/{key}", json=document.as_json())


@pytest.fixture(scope="module")
def fleet(w3: Web3, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    fleet = deploy_fleet(w3, tmp_path_factory.mktemp("fleet"))
    for name, spec in HOSTS.items():
        fleet.attest_host(name, spec)
    return fleet


@pytest.fixture(scope="module")
def explorer(
    fleet: Fleet, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The API over the fleet, every document but the unsent one put."""
    with api_over(fleet, database_url, tmp_path_factory.mktemp("home")) as (client, _):
        for name in ("hgx", "small", "amd"):
            response = put(client, fleet.documents[name])
            assert response.status_code == 201, response.text
            assert response.json()["gpu_keys"] == sorted(fleet.keys[name])
        yield client


# ---------------------------------------------------------------------- putting documents


def test_a_document_is_stored_once_and_served_as_its_canonical_bytes(
    explorer: TestClient, fleet: Fleet
) -> None:
    document = fleet.documents["hgx"]
    again = put(explorer, document)
    assert again.status_code == 200 and again.json()["stored"] is False
    key = to_hex(document_hash(document))
    served = explorer.get(f"/v1/capabilities/{key}")
    assert served.status_code == 200
    assert served.content == canonical_bytes(document)
    assert CapabilityDocument.model_validate_json(served.content) == document


def test_a_document_no_attestation_names_is_refused(explorer: TestClient, fleet: Fleet) -> None:
    forged = fleet.documents["small"].model_copy(
        update={"host": HostCapabilities(cpu_cores=512, ram_gib=4096)}
    )
    body = assert_problem(put(explorer, forged), 409, "capabilities_not_attested")
    assert to_hex(document_hash(forged)) in body["detail"]
    missing = explorer.get(f"/v1/capabilities/{to_hex(document_hash(forged))}")
    assert_problem(missing, 404, "not_found")


def test_a_document_put_under_another_hash_is_refused(explorer: TestClient, fleet: Fleet) -> None:
    other = to_hex(document_hash(fleet.documents["hgx"]))
    body = assert_problem(
        put(explorer, fleet.documents["unsent"], key=other), 422, "capabilities_hash_mismatch"
    )
    assert body["computed"] == to_hex(document_hash(fleet.documents["unsent"]))


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"not json", "body"),
        (b'{"schema": "depin.capabilities/1", "host": {}, "gpus": []}', "gpus"),
        (b'{"schema": "depin.capabilities/9", "host": {}, "gpus": []}', "schema"),
        (b"[1, 2]", "body"),
        (  # past JSON's exact integers, which RFC 8785 cannot write
            b'{"schema": "depin.capabilities/1", "host": {}, "gpus": [{"gpu_key": "0x'
            + b"ab" * 32
            + b'", "memory_bytes": 9007199254740992, "model": "0", "slot": "0", "vendor": "amd"}]}',
            "gpus",
        ),
    ],
)
def test_a_document_outside_the_schema_is_refused(
    explorer: TestClient, body: bytes, where: str
) -> None:
    response = explorer.put(
        "/v1/capabilities/0x" + "11" * 32,
        content=body,
        headers={"content-type": "application/json"},
    )
    problem = assert_problem(response, 422, "invalid_capabilities")
    assert problem["detail"].startswith(where) or where in problem["detail"], problem


def test_an_oversized_document_is_refused_unread(explorer: TestClient) -> None:
    response = explorer.put("/v1/capabilities/0x" + "11" * 32, content=b" " * (600 * 1024))
    assert_problem(response, 413, "capabilities_too_large")


def test_a_malformed_hash_is_refused(explorer: TestClient, fleet: Fleet) -> None:
    response = explorer.put("/v1/capabilities/0x1234", json=fleet.documents["hgx"].as_json())
    assert_problem(response, 422, "validation")


# ---------------------------------------------------------------------- GPU detail


def test_a_gpu_shows_its_part_of_the_document_and_its_host(
    explorer: TestClient, fleet: Fleet
) -> None:
    key = fleet.keys["hgx"][1]
    body = explorer.get(f"/v1/gpus/{key}").json()
    assert body["capabilities_present"] is True
    assert body["capabilities_hash"] == to_hex(document_hash(fleet.documents["hgx"]))
    part = body["capabilities"]
    assert part["schema"] == "depin.capabilities/1" and part["gpus_per_host"] == 2
    assert part["gpu"]["gpu_key"] == key and part["gpu"]["slot"] == "0000:19:00.0"
    assert part["gpu"]["cuda_version"] == "12.4" and part["gpu"]["links"]["kind"] == "nvlink"
    assert part["host"]["cpu_cores"] == 224
    assert part["host"]["container_runtimes"] == ["docker", "nvidia-container-toolkit"]


def test_a_gpu_whose_document_did_not_arrive_says_so(explorer: TestClient, fleet: Fleet) -> None:
    unsent = explorer.get(f"/v1/gpus/{fleet.keys['unsent'][0]}").json()
    assert unsent["capabilities_hash"] == to_hex(document_hash(fleet.documents["unsent"]))
    assert (unsent["capabilities_present"], unsent["capabilities"]) == (False, None)
    plain = explorer.get(f"/v1/gpus/{fleet.keys['plain'][0]}").json()
    assert (plain["capabilities_hash"], plain["capabilities_present"]) == (None, False)


# ---------------------------------------------------------------------- filters


def _keys(client: TestClient, **params: Any) -> set[str]:
    response = client.get("/v1/gpus", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {g["gpu_key"] for g in body["items"]}


def _of(fleet: Fleet, *names: str) -> set[str]:
    return {k for name in names for k in fleet.keys[name]}


@pytest.mark.parametrize(
    ("params", "hosts"),
    [
        ({"min_cuda": "12.9"}, ("small",)),  # 12.10 > 12.9; 12.4 < 12.9
        ({"min_cuda": "12.4"}, ("hgx", "small")),
        ({"min_cuda": "12.4.1"}, ("small",)),
        ({"min_driver": "535.104"}, ("hgx", "small")),  # AMD's 6.7.0 is below 535.104
        ({"min_driver": "550"}, ("hgx",)),
        ({"min_rocm": "6.1"}, ("amd",)),
        ({"min_compute_capability": "8.9"}, ("hgx", "small")),
        ({"min_compute_capability": "9.0"}, ("hgx",)),
        ({"interconnect": "nvlink"}, ("hgx",)),
        ({"interconnect": "xgmi"}, ("amd",)),
        ({"interconnect": "pcie"}, ("small",)),
        ({"mig": "true"}, ("small",)),
        ({"mig": "false"}, ("hgx", "amd")),
        ({"pcie_gen": 5}, ("hgx", "amd")),
        ({"min_host_cpu_cores": 100}, ("hgx", "amd")),
        ({"min_host_ram_gib": 2000}, ("hgx",)),
        ({"min_host_disk_gib": 1000}, ("hgx", "amd")),
        ({"container_runtime": "podman"}, ("small",)),
        ({"container_runtime": "nvidia-container-toolkit"}, ("hgx",)),
        ({"min_gpus_per_host": 2}, ("hgx",)),
        ({"min_cuda": "12.0", "container_runtime": "docker", "min_gpus_per_host": 2}, ("hgx",)),
        ({"min_cuda": "12.0", "vendor": "nvidia", "min_memory": 30 * GIB}, ("hgx",)),
        ({"min_host_cpu_cores": 900}, ()),  # the unsent document's host: not held, no match
    ],
)
def test_capability_filters_match_the_held_documents(
    explorer: TestClient, fleet: Fleet, params: dict[str, Any], hosts: tuple[str, ...]
) -> None:
    assert _keys(explorer, **params) == _of(fleet, *hosts)


def test_capability_filters_page_and_export_like_the_others(
    explorer: TestClient, fleet: Fleet
) -> None:
    first = explorer.get("/v1/gpus", params={"min_host_cpu_cores": 100, "limit": 1}).json()
    assert first["total"] == 3 and len(first["items"]) == 1 and first["next_cursor"]
    csv = explorer.get(
        "/v1/gpus", params={"interconnect": "nvlink"}, headers={"accept": "text/csv"}
    )
    assert csv.status_code == 200
    assert {line.split(",")[0] for line in csv.text.splitlines()[1:]} == _of(fleet, "hgx")


@pytest.mark.parametrize(
    "params",
    [
        {"min_cuda": "twelve"},
        {"min_cuda": "12.4.1.0.9"},
        {"min_driver": "-1"},
        {"min_compute_capability": "9.0a"},
        {"interconnect": "infiniband"},
        {"mig": "sometimes"},
        {"pcie_gen": 0},
        {"pcie_gen": 17},
        {"min_host_cpu_cores": -1},
        {"min_host_ram_gib": 2**40},
        {"container_runtime": "lxc"},
        {"min_gpus_per_host": 0},
        {"min_gpus_per_host": 1000},
    ],
)
def test_capability_filter_values_out_of_range_are_refused(
    explorer: TestClient, params: dict[str, Any]
) -> None:
    body = assert_problem(explorer.get("/v1/gpus", params=params), 400, "invalid_filter")
    assert next(iter(params)) in body["detail"]


# ---------------------------------------------------------------------- arrival


@pytest.fixture
def fresh_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database on the module's backend."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'arrival.sqlite'}"
    else:
        yield from postgres_database()


def test_a_document_forwarded_by_an_oracle_shows_within_a_block_of_its_arrival(
    w3: Web3, fresh_url: str, tmp_path: Path
) -> None:
    fleet = deploy_fleet(w3, tmp_path / "chain")
    with api_over(fleet, fresh_url, tmp_path / "home") as (client, indexer):
        fleet.attest_host("hgx", HOSTS["hgx"])
        document = fleet.documents["hgx"]
        forwarder = InventoryForwarder("http://testserver", http=client)
        forwarder.offer(document)
        forwarder.send_once()  # not indexed yet: 409, kept for later
        assert forwarder.pending() == 1
        indexer.sync()
        key = fleet.keys["hgx"][0]
        before = client.get(f"/v1/gpus/{key}").json()
        assert before["capabilities_present"] is False
        assert before["capabilities_hash"] == to_hex(document_hash(document))
        forwarder.send_once()
        assert forwarder.pending() == 0 and list(forwarder.delivered) == [document_hash(document)]
        after = client.get(f"/v1/gpus/{key}").json()
        assert after["as_of_block"] == before["as_of_block"]  # no block in between
        assert after["capabilities_present"] is True
        assert after["capabilities"]["gpu"]["driver_version"] == "550.54.15"
        assert _keys(client, min_cuda="12.4") == set(fleet.keys["hgx"])
