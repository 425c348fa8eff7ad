"""AttestationOracle on anvil: every refusal with its reason, revocation, liveness, digests."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, NamedTuple

import pytest
from attest_helpers import agent_sign, chain_now, cosign, new_attestation, submit
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.logs import DISCARD

from depin import artifacts
from depin.attestation import (
    ALL_WELL,
    AttestationBatch,
    GpuAttestation,
    GpuRevocation,
    GpuStatus,
    Liveness,
    LivenessReport,
    RejectReason,
    bitmap_from_indices,
    sign_digest,
    unpack_figures,
    unpack_quorum,
)
from depin.attestation_client import AttestationClient
from depin.chain import transact
from depin.eip712 import Message
from depin.errors import ContractRevertError
from depin.registry import RegistryClient

pytestmark = pytest.mark.integration


@pytest.fixture
def sender(make_account: Callable[..., LocalAccount]) -> LocalAccount:
    return make_account()


def _one(
    attestations: AttestationClient,
    sender: LocalAccount,
    oracles: list[LocalAccount],
    message: GpuAttestation,
    signer: LocalAccount,
) -> list[tuple[bytes, int]]:
    receipt = submit(
        attestations, sender, [(message, agent_sign(attestations, signer, message))], oracles
    )
    return attestations.rejections(receipt)


class Desk(NamedTuple):
    """A fresh contract with its three oracles, one provider, its agent and a sender (in the
    order a test unpacks them)."""

    attestations: AttestationClient
    oracles: list[LocalAccount]
    provider: LocalAccount
    agent: LocalAccount
    sender: LocalAccount
    w3: Web3

    def attestation(self, **overrides: Any) -> GpuAttestation:
        """A new measurement of a new GPU by this provider's agent."""
        return new_attestation(self.w3, self.provider, self.agent, **overrides)

    def entry(self) -> tuple[GpuAttestation, bytes]:
        """A new attestation with the agent's signature."""
        message = self.attestation()
        return message, agent_sign(self.attestations, self.agent, message)

    def one(
        self, message: GpuAttestation, signer: LocalAccount | None = None
    ) -> list[tuple[bytes, int]]:
        """The rejections of ``message`` (signed by ``signer``, the agent by default) submitted
        alone with every oracle's signature."""
        return _one(self.attestations, self.sender, self.oracles, message, signer or self.agent)

    def attested(self, **overrides: Any) -> GpuAttestation:
        """A new attestation that landed."""
        message = self.attestation(**overrides)
        assert self.one(message) == []
        return message


@pytest.fixture
def desk(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
) -> Desk:
    return Desk(attestations, oracle_accounts, provider, agent, sender, w3)


# ---------------------------------------------------------------------- protocol agreement


def test_typehashes_match_contract(attestations: AttestationClient) -> None:
    f = attestations.contract.functions
    assert f.GPU_ATTESTATION_TYPEHASH().call() == GpuAttestation.TYPEHASH
    assert f.ATTESTATION_BATCH_TYPEHASH().call() == AttestationBatch.TYPEHASH
    assert f.LIVENESS_REPORT_TYPEHASH().call() == LivenessReport.TYPEHASH
    assert f.GPU_REVOCATION_TYPEHASH().call() == GpuRevocation.TYPEHASH


def test_domain_is_read_from_the_contract(attestations: AttestationClient, w3: Web3) -> None:
    assert attestations.domain.chain_id == w3.eth.chain_id
    assert attestations.domain.verifying_contract == attestations.address
    assert attestations.domain.name == "DePIN AttestationOracle"


_u32 = st.integers(0, 2**32 - 1)
_addr = st.binary(min_size=20, max_size=20).map(lambda b: Web3.to_checksum_address(b))
_b32 = st.binary(min_size=32, max_size=32)
_attestation = st.builds(
    GpuAttestation,
    provider=_addr,
    agent=_addr,
    gpu_key=_b32,
    vendor_id=st.integers(0, 2**16 - 1),
    model=_b32,
    memory_bytes=st.integers(0, 2**64 - 1),
    fp32_gflops=_u32,
    fp16_gflops=_u32,
    memory_bandwidth_gbps=_u32,
    proven_int8_gops=_u32,
    challenge=_b32,
    measured_at=_u32,
    expires_at=_u32,
    capabilities=_b32,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(_attestation, min_size=1, max_size=4), version=_u32)
def test_digests_match_contract(
    attestations: AttestationClient, batch: list[GpuAttestation], version: int
) -> None:
    f = attestations.contract.functions
    packed = [m.packed(sign_digest(b"\x01" * 32, b"\x02" * 32)) for m in batch]
    for message, entry in zip(batch, packed, strict=True):
        assert f.attestationDigest(entry).call() == message.digest(attestations.domain)
        assert GpuAttestation.from_packed(entry)[0] == message
        assert message.struct_hash() == Message.struct_hash(message)  # fast path == generic
    assert f.batchDigest(version, packed).call() == attestations.batch_digest(version, batch)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    epoch=st.integers(0, 2**64 - 1),
    bitmap=st.binary(max_size=300),
    available=st.binary(max_size=40),
    healthy=st.binary(max_size=40),
    version=_u32,
)
def test_liveness_and_revocation_digests_match_contract(
    attestations: AttestationClient,
    epoch: int,
    bitmap: bytes,
    available: bytes,
    healthy: bytes,
    version: int,
) -> None:
    f = attestations.contract.functions
    liveness = Liveness(bitmap, available, healthy)
    assert f.livenessDigest(version, epoch, liveness.as_tuple()).call() == (
        attestations.liveness_digest(version, epoch, liveness)
    )
    key = bitmap[:32].ljust(32, b"\0")
    assert f.revocationDigest(version, key, epoch % 2**32).call() == (
        attestations.revocation_digest(version, key, epoch % 2**32)
    )


# ---------------------------------------------------------------------- acceptance


def test_attestation_lands_and_gpu_is_verified(desk: Desk) -> None:
    attestations, oracle_accounts, provider, agent, sender, w3 = desk
    message = new_attestation(w3, provider, agent)
    receipt = submit(
        attestations,
        sender,
        [(message, agent_sign(attestations, agent, message))],
        oracle_accounts[:2],
    )
    assert attestations.rejections(receipt) == []
    (event,) = attestations.attested(receipt)
    assert event["provider"] == provider.address and event["agent"] == agent.address
    assert event["index"] == 0 and event["model"] == message.model
    assert unpack_figures(event["figures"])["proven_int8_gops"] == 1_700_000
    version, signers = unpack_quorum(event["quorum"])
    assert version == 1 and bin(signers).count("1") == 2
    assert attestations.is_verified(message.gpu_key)
    state = attestations.gpu(message.gpu_key)
    assert (state.provider, state.measured_at, state.expires_at) == (
        provider.address,
        message.measured_at,
        message.expires_at,
    )
    # A newer measurement replaces it and keeps the GPU's index.
    newer = replace(message, measured_at=message.measured_at + 1)
    assert _one(attestations, sender, oracle_accounts[1:], newer, agent) == []
    assert attestations.gpu(message.gpu_key).index == 0
    assert attestations.gpu_count() == 1


def test_the_capability_document_hash_is_signed_and_emitted(desk: Desk) -> None:
    document = bytes.fromhex("c0" * 32)
    message = desk.attested(capabilities=document)
    receipt = submit(
        desk.attestations,
        desk.sender,
        [
            (m, agent_sign(desk.attestations, desk.agent, m))
            for m in [replace(message, measured_at=message.measured_at + 1)]
        ],
        desk.oracles[:2],
    )
    (event,) = desk.attestations.attested(receipt)
    assert event["capabilities"] == document
    # a document swapped after signing breaks the agent's signature
    other = desk.attestation(capabilities=document)
    signature = agent_sign(desk.attestations, desk.agent, other)
    swapped = replace(other, capabilities=bytes.fromhex("c1" * 32))
    receipt = submit(desk.attestations, desk.sender, [(swapped, signature)], desk.oracles[:2])
    assert desk.attestations.rejections(receipt) == [
        (other.gpu_key, RejectReason.INVALID_AGENT_SIGNATURE)
    ]


def test_no_document_is_a_zero_word(desk: Desk) -> None:
    message = desk.attestation()
    receipt = submit(
        desk.attestations,
        desk.sender,
        [(message, agent_sign(desk.attestations, desk.agent, message))],
        desk.oracles[:2],
    )
    (event,) = desk.attestations.attested(receipt)
    assert message.capabilities == event["capabilities"] == bytes(32)


def test_batch_with_one_bad_entry_lands_the_rest(desk: Desk) -> None:
    attestations, oracle_accounts, provider, agent, sender, w3 = desk
    good = [new_attestation(w3, provider, agent) for _ in range(3)]
    bad = new_attestation(w3, provider, agent)
    entries = [(m, agent_sign(attestations, agent, m)) for m in good]
    entries.insert(1, (bad, agent_sign(attestations, agent, replace(bad, fp32_gflops=1))))
    receipt = submit(attestations, sender, entries, oracle_accounts[:2])
    assert attestations.rejections(receipt) == [(bad.gpu_key, RejectReason.INVALID_AGENT_SIGNATURE)]
    assert [attestations.is_verified(m.gpu_key) for m in good] == [True, True, True]
    assert not attestations.is_verified(bad.gpu_key)
    assert sorted(attestations.gpu(m.gpu_key).index for m in good) == [0, 1, 2]


# ---------------------------------------------------------------------- per-entry refusals


def test_forged_agent_signature_is_rejected(
    desk: Desk, make_account: Callable[..., LocalAccount]
) -> None:
    message = desk.attestation()
    forger = make_account(fund=False)
    assert desk.one(message, forger) == [(message.gpu_key, RejectReason.INVALID_AGENT_SIGNATURE)]


def test_agent_of_another_provider_is_rejected(
    desk: Desk,
    make_provider: Callable[..., LocalAccount],
    make_agent: Callable[..., LocalAccount],
) -> None:
    other = make_provider()
    other_agent = make_agent(other)
    message = new_attestation(desk.w3, desk.provider, other_agent)
    assert desk.one(message, other_agent) == [(message.gpu_key, RejectReason.UNAUTHORIZED_AGENT)]


def test_revoked_agent_is_rejected(desk: Desk, registry: RegistryClient) -> None:
    registry.revoke_agent(desk.provider, desk.agent.address)
    message = desk.attestation()
    assert desk.one(message) == [(message.gpu_key, RejectReason.UNAUTHORIZED_AGENT)]


def test_expired_agent_is_rejected(desk: Desk, make_agent: Callable[..., LocalAccount]) -> None:
    agent = make_agent(desk.provider, ttl=5)
    desk.w3.provider.make_request("evm_increaseTime", [10])  # type: ignore[arg-type]
    desk.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    message = new_attestation(desk.w3, desk.provider, agent)
    assert desk.one(message, agent) == [(message.gpu_key, RejectReason.UNAUTHORIZED_AGENT)]


def test_stale_measurement_is_rejected(desk: Desk) -> None:
    message = desk.attested()
    # The same measurement again (a replay) and an older one are both stale.
    for stale in (message, replace(message, measured_at=message.measured_at - 1)):
        assert desk.one(stale) == [(message.gpu_key, RejectReason.STALE_MEASUREMENT)]


def test_expired_attestation_is_rejected(desk: Desk) -> None:
    now = chain_now(desk.w3)
    message = desk.attestation(measured_at=now - 100, expires_at=now - 1)
    assert desk.one(message) == [(message.gpu_key, RejectReason.EXPIRED)]


def test_measurement_from_the_future_is_rejected(desk: Desk) -> None:
    message = desk.attestation(measured_at=chain_now(desk.w3) + 3600)
    assert desk.one(message) == [(message.gpu_key, RejectReason.MEASURED_IN_FUTURE)]


def test_gpu_expires_with_its_attestation(desk: Desk) -> None:
    message = desk.attested()
    admin = desk.attestations.admin  # type: ignore[attr-defined]
    transact(desk.w3, admin, desk.attestations.contract.functions.setNow(message.expires_at))
    assert not desk.attestations.is_verified(message.gpu_key)


# ---------------------------------------------------------------------- batch refusals


def _expect_revert(name: str, fn: Callable[[], object]) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as info:
        fn()
    assert info.value.error_name == name, info.value
    return info.value


def test_only_t_minus_one_oracle_signatures_reverts(desk: Desk) -> None:
    entry = desk.entry()
    error = _expect_revert(
        "AttestationOracleInsufficientSignatures",
        lambda: submit(desk.attestations, desk.sender, [entry], desk.oracles[:1]),
    )
    assert error.error_args == {"count": 1, "threshold": 2}


def test_duplicated_oracle_signature_reverts(desk: Desk) -> None:
    entry = desk.entry()
    (sig,) = cosign(desk.attestations, desk.oracles[:1], [entry[0]])
    error = _expect_revert(
        "AttestationOracleUnsortedSigners",
        lambda: desk.attestations.submit(desk.sender, 1, [entry], [sig, sig]),
    )
    assert Web3.to_checksum_address(error.error_args["signer"]) == desk.oracles[0].address


def test_signature_from_a_non_oracle_reverts(
    desk: Desk, make_account: Callable[..., LocalAccount]
) -> None:
    entry = desk.entry()
    outsider = make_account(fund=False)
    error = _expect_revert(
        "AttestationOracleUnknownSigner",
        lambda: submit(desk.attestations, desk.sender, [entry], [desk.oracles[0], outsider]),
    )
    assert Web3.to_checksum_address(error.error_args["signer"]) == outsider.address


def test_signature_under_previous_config_reverts(
    desk: Desk,
    make_account: Callable[..., LocalAccount],
) -> None:
    attestations, oracle_accounts, sender, agent = (
        desk.attestations,
        desk.oracles,
        desk.sender,
        desk.agent,
    )
    entry = desk.entry()
    old = cosign(attestations, oracle_accounts[:2], [entry[0]], version=1)
    replacement = make_account(fund=False)
    attestations.set_config(
        attestations.admin,  # type: ignore[attr-defined]
        [oracle_accounts[0].address, oracle_accounts[1].address, replacement.address],
        2,
    )
    assert attestations.config_version() == 2
    error = _expect_revert(
        "AttestationOracleWrongConfigVersion", lambda: attestations.submit(sender, 1, [entry], old)
    )
    assert error.error_args == {"given": 1, "current": 2}
    # The same oracles' signatures of version 1's digest do not pass as version 2's.
    _expect_revert(
        "AttestationOracleUnknownSigner", lambda: attestations.submit(sender, 2, [entry], old)
    )
    # A removed oracle no longer counts under the new config.
    attestations.set_config(
        attestations.admin,  # type: ignore[attr-defined]
        [oracle_accounts[0].address, replacement.address],
        2,
    )
    _expect_revert(
        "AttestationOracleUnknownSigner",
        lambda: submit(attestations, sender, [entry], oracle_accounts[:2]),
    )
    assert _one(attestations, sender, [oracle_accounts[0], replacement], entry[0], agent) == []


def test_empty_batch_reverts(
    attestations: AttestationClient, oracle_accounts: list[LocalAccount], sender: LocalAccount
) -> None:
    _expect_revert(
        "AttestationOracleEmptyBatch", lambda: submit(attestations, sender, [], oracle_accounts)
    )


def test_non_admin_config_change_reverts(
    attestations: AttestationClient, oracle_accounts: list[LocalAccount], sender: LocalAccount
) -> None:
    error = _expect_revert(
        "OwnableUnauthorizedAccount",
        lambda: attestations.set_config(sender, [sender.address], 1),
    )
    assert Web3.to_checksum_address(error.error_args["account"]) == sender.address


def test_invalid_configs_revert(
    attestations: AttestationClient, oracle_accounts: list[LocalAccount]
) -> None:
    admin = attestations.admin  # type: ignore[attr-defined]
    addresses = [o.address for o in oracle_accounts]
    _expect_revert(
        "AttestationOracleInvalidConfig", lambda: attestations.set_config(admin, addresses, 4)
    )
    _expect_revert(
        "AttestationOracleInvalidConfig", lambda: attestations.set_config(admin, addresses, 0)
    )
    _expect_revert(
        "AttestationOracleInvalidOracle",
        lambda: attestations.set_config(admin, [addresses[0], addresses[0]], 1),
    )


def test_config_change_is_two_step_admin_and_emits_event(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    make_account: Callable[..., LocalAccount],
    w3: Web3,
) -> None:
    admin = attestations.admin  # type: ignore[attr-defined]
    new_admin = make_account()
    transact(w3, admin, attestations.contract.functions.transferOwnership(new_admin.address))
    assert attestations.contract.functions.owner().call() == admin.address
    transact(w3, new_admin, attestations.contract.functions.acceptOwnership())
    receipt = attestations.set_config(new_admin, [o.address for o in oracle_accounts[:2]], 2)
    (event,) = attestations.contract.events.OracleConfigSet().process_receipt(
        receipt, errors=DISCARD
    )
    assert event["args"]["version"] == 2 and event["args"]["threshold"] == 2
    assert attestations.config().oracles == tuple(o.address for o in oracle_accounts[:2])


# ---------------------------------------------------------------------- revocation


def test_provider_retires_its_gpu(desk: Desk) -> None:
    attestations, provider, sender = desk.attestations, desk.provider, desk.sender
    message = desk.attested()
    error = _expect_revert(
        "AttestationOracleNotGpuProvider", lambda: attestations.retire(sender, message.gpu_key)
    )
    assert Web3.to_checksum_address(error.error_args["caller"]) == sender.address
    receipt = attestations.retire(provider, message.gpu_key)
    (event,) = attestations.contract.events.GpuRevoked().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["byProvider"] is True
    assert not attestations.is_verified(message.gpu_key)
    # Attesting it again with a newer measurement brings it back at the same index.
    newer = replace(message, measured_at=message.measured_at + 1)
    assert desk.one(newer) == []
    assert attestations.is_verified(message.gpu_key)


def test_quorum_revokes_an_attestation(desk: Desk) -> None:
    attestations, oracle_accounts, sender = desk.attestations, desk.oracles, desk.sender
    message = desk.attested()
    digest = attestations.revocation_digest(1, message.gpu_key, message.measured_at)
    one = [(oracle_accounts[0].address, sign_digest(oracle_accounts[0], digest))]
    _expect_revert(
        "AttestationOracleInsufficientSignatures",
        lambda: attestations.revoke(sender, 1, message.gpu_key, message.measured_at, one),
    )
    wrong = attestations.revocation_digest(1, message.gpu_key, message.measured_at - 1)
    _expect_revert(
        "AttestationOracleRevocationMismatch",
        lambda: attestations.revoke(
            sender,
            1,
            message.gpu_key,
            message.measured_at - 1,
            [(o.address, sign_digest(o, wrong)) for o in oracle_accounts[:2]],
        ),
    )
    sigs = [(o.address, sign_digest(o, digest)) for o in oracle_accounts[1:]]
    attestations.revoke(sender, 1, message.gpu_key, message.measured_at, sigs)
    assert not attestations.is_verified(message.gpu_key)


# ---------------------------------------------------------------------- liveness


def test_liveness_bitmap_per_epoch(desk: Desk) -> None:
    attestations, oracle_accounts, provider, agent, sender, w3 = desk
    messages = [new_attestation(w3, provider, agent) for _ in range(10)]
    submit(
        attestations,
        sender,
        [(m, agent_sign(attestations, agent, m)) for m in messages],
        oracle_accounts[:2],
    )
    assert attestations.gpu_count() == 10
    epoch = chain_now(w3) // attestations.epoch_length()
    liveness = Liveness.from_statuses({0: ALL_WELL, 3: GpuStatus.HEALTHY, 9: GpuStatus.AVAILABLE})
    assert liveness.online == bitmap_from_indices([0, 3, 9], 10)

    def record(epoch: int, liveness: Liveness, signed: Liveness | None = None) -> Any:
        digest = attestations.liveness_digest(1, epoch, signed or liveness)
        sigs = [(o.address, sign_digest(o, digest)) for o in oracle_accounts[:2]]
        return attestations.record_liveness(sender, 1, epoch, liveness, sigs)

    receipt = record(epoch, liveness)
    (event,) = attestations.contract.events.LivenessRecorded().process_receipt(
        receipt, errors=DISCARD
    )
    args = event["args"]
    assert args["epoch"] == epoch
    assert Liveness(args["online"], args["available"], args["healthy"]) == liveness
    assert Liveness(args["online"], args["available"], args["healthy"]).statuses() == {
        0: ALL_WELL,
        3: GpuStatus.HEALTHY,
        9: GpuStatus.AVAILABLE,
    }
    assert attestations.last_liveness_epoch() == epoch
    # The same epoch again and a future epoch are refused.
    _expect_revert("AttestationOracleInvalidEpoch", lambda: record(epoch, liveness))
    _expect_revert("AttestationOracleInvalidEpoch", lambda: record(epoch + 10, liveness))
    admin = attestations.admin  # type: ignore[attr-defined]
    transact(
        w3, admin, attestations.contract.functions.setNow((epoch + 3) * attestations.epoch_length())
    )
    # An over-long bitmap is refused, whichever of the three it is.
    for long in (
        Liveness(b"\xff" * 3),
        Liveness(b"\xff", b"\xff" * 3),
        Liveness(b"\xff", b"", b"\xff" * 3),
    ):
        _expect_revert("AttestationOracleBitmapTooLong", lambda long=long: record(epoch + 1, long))
    # A forged record (signed for another one) is refused: the signers do not recover.
    _expect_revert(
        "AttestationOracleUnknownSigner",
        lambda: record(epoch + 1, Liveness(b"\xff", b"\xff"), signed=Liveness(b"\xff")),
    )
    # Epochs the oracles could not agree on leave a gap; a later epoch is still recorded.
    record(epoch + 3, Liveness())
    assert attestations.last_liveness_epoch() == epoch + 3


#: the selector of ``Error(string)``, which a plain ``require(x, "msg")`` or ``revert("msg")``
#: encodes into the contract's code
ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")


def _reverts_with_strings(contract: str) -> bool:
    code = bytes.fromhex(artifacts.load(contract).deployed_bytecode.removeprefix("0x"))
    return ERROR_STRING_SELECTOR in code


def _unnamed_reverts(source: str) -> list[str]:
    """Every ``revert``/``require`` in ``source`` that does not raise a custom error."""
    code = re.sub(r"//[^\n]*|/\*.*?\*/", "", source, flags=re.DOTALL)
    plain = [m.group(0) for m in re.finditer(r"\brevert\s*\(", code)]
    for m in re.finditer(r"\brequire\s*\((.*?)\)\s*;", code, flags=re.DOTALL):
        if '"' in m.group(1) or "," not in m.group(1):
            plain.append(m.group(0))
    return plain


def test_artifact_has_no_unnamed_reverts() -> None:
    names = {e["name"] for e in artifacts.abi("AttestationOracle") if e["type"] == "error"}
    assert all(
        n.startswith(("AttestationOracle", "Ownable", "ECDSA", "InvalidShort", "StringTooLong"))
        for n in names
    )
    # The ABI lists only custom errors: the code and the sources are where a string revert shows.
    for contract in ("AttestationOracle", "ProviderRegistry"):
        assert not _reverts_with_strings(contract), contract
    for path in sorted(artifacts.CONTRACTS_DIR.glob("**/*.sol")):
        if "test" in path.relative_to(artifacts.CONTRACTS_DIR).parts:
            continue
        assert _unnamed_reverts(path.read_text()) == [], path


def test_the_unnamed_revert_checks_catch_a_plain_require() -> None:
    # TestContractWallet (a test contract) reverts with require(msg.sender == owner, "not owner").
    assert _reverts_with_strings("TestContractWallet")
    wallet = artifacts.CONTRACTS_DIR / "test" / "TestContractWallet.sol"
    assert _unnamed_reverts(wallet.read_text())
    assert _unnamed_reverts('function f() { require(x > 0, "no"); }')
    assert _unnamed_reverts('function f() { if (x == 0) revert("no"); }')
    assert _unnamed_reverts("function f() { require(x > 0); }")
    assert _unnamed_reverts("function f() { if (x == 0) revert Named(x); }") == []
    assert _unnamed_reverts("function f() { require(x > 0, Named(x)); }") == []
