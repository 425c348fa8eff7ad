"""AttestationOracle on anvil: every refusal with its reason, revocation, liveness, digests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from attest_helpers import agent_sign, chain_now, cosign, new_attestation, submit
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.logs import DISCARD

from depin import artifacts
from depin.attestation import (
    AttestationBatch,
    GpuAttestation,
    GpuRevocation,
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
def provider(make_provider: Callable[..., LocalAccount]) -> LocalAccount:
    return make_provider()


@pytest.fixture
def agent(make_agent: Callable[..., LocalAccount], provider: LocalAccount) -> LocalAccount:
    return make_agent(provider)


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
@given(epoch=st.integers(0, 2**64 - 1), bitmap=st.binary(max_size=300), version=_u32)
def test_liveness_and_revocation_digests_match_contract(
    attestations: AttestationClient, epoch: int, bitmap: bytes, version: int
) -> None:
    f = attestations.contract.functions
    assert f.livenessDigest(version, epoch, bitmap).call() == attestations.liveness_digest(
        version, epoch, bitmap
    )
    key = bitmap[:32].ljust(32, b"\0")
    assert f.revocationDigest(version, key, epoch % 2**32).call() == (
        attestations.revocation_digest(version, key, epoch % 2**32)
    )


# ---------------------------------------------------------------------- acceptance


def test_attestation_lands_and_gpu_is_verified(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
) -> None:
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


def test_batch_with_one_bad_entry_lands_the_rest(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
) -> None:
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
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
    make_account: Callable[..., LocalAccount],
) -> None:
    message = new_attestation(w3, provider, agent)
    forger = make_account(fund=False)
    assert _one(attestations, sender, oracle_accounts, message, forger) == [
        (message.gpu_key, RejectReason.INVALID_AGENT_SIGNATURE)
    ]


def test_agent_of_another_provider_is_rejected(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
    make_provider: Callable[..., LocalAccount],
    make_agent: Callable[..., LocalAccount],
) -> None:
    other = make_provider()
    other_agent = make_agent(other)
    message = new_attestation(w3, provider, other_agent)
    assert _one(attestations, sender, oracle_accounts, message, other_agent) == [
        (message.gpu_key, RejectReason.UNAUTHORIZED_AGENT)
    ]


def test_revoked_agent_is_rejected(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
    registry: RegistryClient,
) -> None:
    registry.revoke_agent(provider, agent.address)
    message = new_attestation(w3, provider, agent)
    assert _one(attestations, sender, oracle_accounts, message, agent) == [
        (message.gpu_key, RejectReason.UNAUTHORIZED_AGENT)
    ]


def test_expired_agent_is_rejected(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
    make_agent: Callable[..., LocalAccount],
) -> None:
    agent = make_agent(provider, ttl=5)
    w3.provider.make_request("evm_increaseTime", [10])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    message = new_attestation(w3, provider, agent)
    assert _one(attestations, sender, oracle_accounts, message, agent) == [
        (message.gpu_key, RejectReason.UNAUTHORIZED_AGENT)
    ]


def test_stale_measurement_is_rejected(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
) -> None:
    message = new_attestation(w3, provider, agent)
    assert _one(attestations, sender, oracle_accounts, message, agent) == []
    # The same measurement again (a replay) and an older one are both stale.
    for stale in (message, replace(message, measured_at=message.measured_at - 1)):
        assert _one(attestations, sender, oracle_accounts, stale, agent) == [
            (message.gpu_key, RejectReason.STALE_MEASUREMENT)
        ]


def test_expired_attestation_is_rejected(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
) -> None:
    now = chain_now(w3)
    message = new_attestation(w3, provider, agent, measured_at=now - 100, expires_at=now - 1)
    assert _one(attestations, sender, oracle_accounts, message, agent) == [
        (message.gpu_key, RejectReason.EXPIRED)
    ]


def test_measurement_from_the_future_is_rejected(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
) -> None:
    message = new_attestation(w3, provider, agent, measured_at=chain_now(w3) + 3600)
    assert _one(attestations, sender, oracle_accounts, message, agent) == [
        (message.gpu_key, RejectReason.MEASURED_IN_FUTURE)
    ]


def test_gpu_expires_with_its_attestation(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
) -> None:
    message = new_attestation(w3, provider, agent)
    assert _one(attestations, sender, oracle_accounts, message, agent) == []
    admin = attestations.admin  # type: ignore[attr-defined]
    transact(w3, admin, attestations.contract.functions.setNow(message.expires_at))
    assert not attestations.is_verified(message.gpu_key)


# ---------------------------------------------------------------------- batch refusals


def _expect_revert(name: str, fn: Callable[[], object]) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as info:
        fn()
    assert info.value.error_name == name, info.value
    return info.value


def _entry(
    client: AttestationClient, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> tuple[GpuAttestation, bytes]:
    message = new_attestation(w3, provider, agent)
    return message, agent_sign(client, agent, message)


def test_only_t_minus_one_oracle_signatures_reverts(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
) -> None:
    entry = _entry(attestations, w3, provider, agent)
    error = _expect_revert(
        "AttestationOracleInsufficientSignatures",
        lambda: submit(attestations, sender, [entry], oracle_accounts[:1]),
    )
    assert error.error_args == {"count": 1, "threshold": 2}


def test_duplicated_oracle_signature_reverts(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
) -> None:
    entry = _entry(attestations, w3, provider, agent)
    (sig,) = cosign(attestations, oracle_accounts[:1], [entry[0]])
    error = _expect_revert(
        "AttestationOracleUnsortedSigners",
        lambda: attestations.submit(sender, 1, [entry], [sig, sig]),
    )
    assert Web3.to_checksum_address(error.error_args["signer"]) == oracle_accounts[0].address


def test_signature_from_a_non_oracle_reverts(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
    make_account: Callable[..., LocalAccount],
) -> None:
    entry = _entry(attestations, w3, provider, agent)
    outsider = make_account(fund=False)
    error = _expect_revert(
        "AttestationOracleUnknownSigner",
        lambda: submit(attestations, sender, [entry], [oracle_accounts[0], outsider]),
    )
    assert Web3.to_checksum_address(error.error_args["signer"]) == outsider.address


def test_signature_under_previous_config_reverts(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
    make_account: Callable[..., LocalAccount],
) -> None:
    entry = _entry(attestations, w3, provider, agent)
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


def test_provider_retires_its_gpu(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
) -> None:
    message = new_attestation(w3, provider, agent)
    assert _one(attestations, sender, oracle_accounts, message, agent) == []
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
    assert _one(attestations, sender, oracle_accounts, newer, agent) == []
    assert attestations.is_verified(message.gpu_key)


def test_quorum_revokes_an_attestation(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
) -> None:
    message = new_attestation(w3, provider, agent)
    assert _one(attestations, sender, oracle_accounts, message, agent) == []
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


def test_liveness_bitmap_per_epoch(
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    sender: LocalAccount,
    w3: Web3,
) -> None:
    messages = [new_attestation(w3, provider, agent) for _ in range(10)]
    submit(
        attestations,
        sender,
        [(m, agent_sign(attestations, agent, m)) for m in messages],
        oracle_accounts[:2],
    )
    assert attestations.gpu_count() == 10
    epoch = chain_now(w3) // attestations.epoch_length()
    bitmap = bitmap_from_indices([0, 3, 9], 10)
    digest = attestations.liveness_digest(1, epoch, bitmap)
    sigs = [(o.address, sign_digest(o, digest)) for o in oracle_accounts[:2]]
    receipt = attestations.record_liveness(sender, 1, epoch, bitmap, sigs)
    (event,) = attestations.contract.events.LivenessRecorded().process_receipt(
        receipt, errors=DISCARD
    )
    assert event["args"]["epoch"] == epoch and event["args"]["bitmap"] == bitmap
    assert attestations.last_liveness_epoch() == epoch
    # The same epoch again, a future epoch and an over-long bitmap are refused.
    _expect_revert(
        "AttestationOracleInvalidEpoch",
        lambda: attestations.record_liveness(sender, 1, epoch, bitmap, sigs),
    )
    future = epoch + 10
    fdigest = attestations.liveness_digest(1, future, bitmap)
    _expect_revert(
        "AttestationOracleInvalidEpoch",
        lambda: attestations.record_liveness(
            sender,
            1,
            future,
            bitmap,
            [(o.address, sign_digest(o, fdigest)) for o in oracle_accounts[:2]],
        ),
    )
    admin = attestations.admin  # type: ignore[attr-defined]
    transact(
        w3, admin, attestations.contract.functions.setNow((epoch + 1) * attestations.epoch_length())
    )
    long_bitmap = b"\xff" * 3
    ldigest = attestations.liveness_digest(1, epoch + 1, long_bitmap)
    _expect_revert(
        "AttestationOracleBitmapTooLong",
        lambda: attestations.record_liveness(
            sender,
            1,
            epoch + 1,
            long_bitmap,
            [(o.address, sign_digest(o, ldigest)) for o in oracle_accounts[:2]],
        ),
    )
    # A forged bitmap (signed for another one) is refused: the signers do not recover.
    _expect_revert(
        "AttestationOracleUnknownSigner",
        lambda: attestations.record_liveness(sender, 1, epoch + 1, b"\xff", sigs),
    )


def test_artifact_has_no_unnamed_reverts() -> None:
    names = {e["name"] for e in artifacts.abi("AttestationOracle") if e["type"] == "error"}
    assert all(
        n.startswith(("AttestationOracle", "Ownable", "ECDSA", "InvalidShort", "StringTooLong"))
        for n in names
    )
