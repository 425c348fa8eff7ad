"""Fixtures shared by every suite: a real anvil node, funded accounts, fresh deployments."""

from __future__ import annotations

import itertools
import os
import secrets
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from attest_helpers import deploy_test_oracle
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from depin.attestation_client import AttestationClient
from depin.chain import ANVIL_KEYS, Anvil, connect
from depin.deploy import deploy_registry
from depin.registry import Profile, RegistryClient
from depin.toolchain import configure_environment

configure_environment()
# State a test makes without naming a home goes to a folder of this run, never to the
# checkout's own .depin (which `depin up` uses, and which would carry over between runs).
os.environ.setdefault("DEPIN_HOME", tempfile.mkdtemp(prefix="depin-tests-home-"))

# `--hypothesis-profile=fuzz-long`: the boundary fuzz suite (tests/fuzz) at 20x its CI size.
hypothesis.settings.register_profile("fuzz-long", max_examples=10_000, deadline=None)

POSTGRES_URL = os.environ.get(
    "DEPIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# --------------------------------------------------------------------------- no skips in CI
# CI (``CI=true``) runs every suite it is meant to run: a skip there means a service or package
# is missing, so it fails with the skip's reason. Only tests marked ``gpu`` may skip.


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _skip_reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail_skip(report: pytest.TestReport | pytest.CollectReport, where: str) -> None:
    report.outcome = "failed"
    report.longrepr = (
        f"{where} was skipped under CI, where only tests marked gpu may skip: "
        f"{_skip_reason(report.longrepr)}"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("gpu") is None
        and _in_ci()
    ):
        _fail_skip(report, item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    """A whole module skipped at import (``pytest.importorskip`` at its top)."""
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if report.skipped and collector.get_closest_marker("gpu") is None and _in_ci():
        _fail_skip(report, collector.nodeid)


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    """One anvil node for the test session (automine)."""
    node = Anvil().start()
    yield node
    node.stop()


@pytest.fixture(autouse=True)
def _session_node_survives(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test during which the session's node died fails, saying what the node last wrote; the
    node is started again on its port, so one death costs the tests that saw it, not every
    test after it (their own contracts are deployed per test)."""
    if "anvil" not in request.fixturenames:
        yield
        return
    node: Anvil = request.getfixturevalue("anvil")
    if not node.alive:
        Anvil.start(node)
    yield
    if not node.alive:
        code = node.process.returncode if node.process is not None else None
        tail = node.log_tail()
        Anvil.start(node)
        pytest.fail(f"the session's anvil node died during this test (exit {code}): {tail}")
    # A test that switched automine off and did not switch it back would leave every later
    # test's transactions unmined: the one that did it fails, the others go on.
    probe = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 10}))
    if probe.provider.make_request("anvil_getAutomine", []).get("result") is False:  # type: ignore[arg-type]
        probe.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        pytest.fail("this test left the node with automine off (switched back on)")


@pytest.fixture(scope="session")
def w3(anvil: Anvil) -> Web3:
    return connect(anvil.rpc_url)


@pytest.fixture(scope="session")
def deployer() -> LocalAccount:
    account: LocalAccount = Account.from_key(ANVIL_KEYS[0])
    return account


@pytest.fixture(scope="session")
def relayer() -> LocalAccount:
    account: LocalAccount = Account.from_key(ANVIL_KEYS[1])
    return account


_funded = itertools.count()


@pytest.fixture
def make_account(w3: Web3, deployer: LocalAccount) -> Callable[..., LocalAccount]:
    """A fresh random account, funded with 10 ETH by anvil (no shared nonces between tests)."""

    def make(fund: bool = True) -> LocalAccount:
        account: LocalAccount = Account.from_key(secrets.token_bytes(32))
        if fund:
            w3.provider.make_request("anvil_setBalance", [account.address, hex(10**19)])
        return account

    return make


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def registry(w3: Web3, make_account: Callable[..., LocalAccount], home: Path) -> RegistryClient:
    """A freshly deployed ProviderRegistry (owned by its own admin account) per test."""
    admin = make_account()
    deployment = deploy_registry(w3, admin, home / "deployments")
    client = RegistryClient(w3, deployment.address)
    client.admin = admin  # type: ignore[attr-defined]
    return client


@pytest.fixture
def make_provider(
    registry: RegistryClient, make_account: Callable[..., LocalAccount]
) -> Callable[..., LocalAccount]:
    """Registers a new provider by transaction; keyword arguments override the profile."""

    def make(**overrides: Any) -> LocalAccount:
        account = make_account()
        fields: dict[str, Any] = {
            "name": f"provider-{account.address[2:8]}",
            "region": "eu-west",
            "endpoint": "https://gpu.example",
            "metadata_uri": "ipfs://bafy",
            "metadata_hash": bytes(32),
        }
        fields.update(overrides)
        registry.register(account, Profile(**fields))
        return account

    return make


@pytest.fixture
def oracle_accounts(make_account: Callable[..., LocalAccount]) -> list[LocalAccount]:
    """Three funded oracle keys (an oracle pays for the batches it transmits)."""
    return [make_account() for _ in range(3)]


@pytest.fixture
def attestations(
    w3: Web3,
    registry: RegistryClient,
    oracle_accounts: list[LocalAccount],
    make_account: Callable[..., LocalAccount],
    home: Path,
) -> AttestationClient:
    """A fresh TestAttestationOracle (settable clock) with 3 oracles, threshold 2, 60 s epochs."""
    return deploy_test_oracle(w3, make_account(), home, registry.address, oracle_accounts)
