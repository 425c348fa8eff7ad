"""ProviderRegistry on anvil: every function and every refusal, by transaction and signature."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from depin import artifacts
from depin.chain import deploy, transact
from depin.eip712 import Domain
from depin.errors import ContractRevertError
from depin.messages import Registration
from depin.registry import Profile, RegistryClient, Status

PROFILE = Profile("Acme GPUs", "eu-west", "https://acme.example", "ipfs://meta", b"\x11" * 32)


def _revert(name: str) -> Any:
    return pytest.raises(ContractRevertError, match=rf"\b{name}\(")


def _events(registry: RegistryClient, receipt: Any, event: str) -> list[dict[str, Any]]:
    return [
        dict(e["args"]) for e in getattr(registry.contract.events, event)().process_receipt(receipt)
    ]


def _increase_time(w3: Web3, seconds: int) -> None:
    w3.provider.make_request("evm_increaseTime", [seconds])
    w3.provider.make_request("evm_mine", [])


def _now(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


# ---------------------------------------------------------------------- by transaction


def test_register_stores_status_and_emits_profile(
    registry: RegistryClient, make_account: Callable[..., LocalAccount]
) -> None:
    provider = make_account()
    receipt = registry.register(provider, PROFILE)
    record = registry.record(provider.address)
    assert record.status is Status.ACTIVE
    assert record.registered_at == registry.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    (event,) = _events(registry, receipt, "ProviderRegistered")
    assert event == {
        "provider": provider.address,
        "name": PROFILE.name,
        "region": PROFILE.region,
        "endpoint": PROFILE.endpoint,
        "metadataURI": PROFILE.metadata_uri,
        "metadataHash": PROFILE.metadata_hash,
    }


def test_double_registration_refused(registry: RegistryClient, make_provider: Any) -> None:
    provider = make_provider()
    with _revert("ProviderRegistryAlreadyRegistered"):
        registry.register(provider, PROFILE)


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        (Profile(""), 0),
        (Profile("x" * 65), 0),
        (Profile("ok", region="r" * 33), 1),
        (Profile("ok", endpoint="e" * 257), 2),
        (Profile("ok", metadata_uri="u" * 257), 3),
    ],
)
def test_invalid_profile_field_refused(
    registry: RegistryClient, make_account: Any, profile: Profile, field: int
) -> None:
    with pytest.raises(ContractRevertError) as info:
        registry.register(make_account(), profile)
    assert info.value.error_name == "ProviderRegistryInvalidProfileField"
    assert info.value.error_args["field"] == field


def test_update_profile_emits_new_profile(registry: RegistryClient, make_provider: Any) -> None:
    provider = make_provider()
    new = Profile("Acme 2", "us-east", "https://new.example", "ipfs://m2", b"\x22" * 32)
    receipt = registry.update_profile(provider, new)
    (event,) = _events(registry, receipt, "ProviderUpdated")
    assert event["name"] == "Acme 2" and event["region"] == "us-east"
    assert registry.profile(provider.address)["name"] == "Acme 2"  # type: ignore[index]


def test_update_profile_unregistered_refused(registry: RegistryClient, make_account: Any) -> None:
    with _revert("ProviderRegistryNotRegistered"):
        registry.update_profile(make_account(), PROFILE)


def test_authorize_and_revoke_agent(
    registry: RegistryClient, make_provider: Any, make_account: Any
) -> None:
    provider = make_provider()
    agent = make_account(fund=False)
    expires = _now(registry.w3) + 3600
    receipt = registry.authorize_agent(provider, agent.address, expires)
    assert _events(registry, receipt, "AgentAuthorized") == [
        {"provider": provider.address, "agent": agent.address, "expiresAt": expires}
    ]
    assert registry.is_authorized_agent(provider.address, agent.address)
    assert registry.agent_expiry(provider.address, agent.address) == expires
    assert registry.agents(provider.address) == {agent.address: expires}
    receipt = registry.revoke_agent(provider, agent.address)
    assert _events(registry, receipt, "AgentRevoked") == [
        {"provider": provider.address, "agent": agent.address}
    ]
    assert not registry.is_authorized_agent(provider.address, agent.address)
    assert registry.agents(provider.address) == {}


def test_agent_of_one_provider_is_not_authorized_for_another(
    registry: RegistryClient, make_provider: Any, make_account: Any
) -> None:
    first, second = make_provider(), make_provider()
    agent = make_account(fund=False)
    registry.authorize_agent(first, agent.address, _now(registry.w3) + 3600)
    assert registry.is_authorized_agent(first.address, agent.address)
    assert not registry.is_authorized_agent(second.address, agent.address)


def test_expired_agent_no_longer_authorized(
    registry: RegistryClient, make_provider: Any, make_account: Any
) -> None:
    provider = make_provider()
    agent = make_account(fund=False)
    registry.authorize_agent(provider, agent.address, _now(registry.w3) + 100)
    assert registry.is_authorized_agent(provider.address, agent.address)
    _increase_time(registry.w3, 101)
    assert not registry.is_authorized_agent(provider.address, agent.address)


def test_authorize_agent_refusals(
    registry: RegistryClient, make_provider: Any, make_account: Any
) -> None:
    provider = make_provider()
    now = _now(registry.w3)
    with _revert("ProviderRegistryInvalidAgent"):
        registry.authorize_agent(provider, "0x" + "00" * 20, now + 100)
    with _revert("ProviderRegistryInvalidAgent"):
        registry.authorize_agent(provider, provider.address, now + 100)
    with _revert("ProviderRegistryInvalidExpiry"):
        registry.authorize_agent(provider, make_account(fund=False).address, now - 1)
    with _revert("ProviderRegistryNotRegistered"):
        registry.authorize_agent(make_account(), make_account(fund=False).address, now + 100)


def test_revoke_unknown_agent_refused(
    registry: RegistryClient, make_provider: Any, make_account: Any
) -> None:
    provider = make_provider()
    with _revert("ProviderRegistryUnknownAgent"):
        registry.revoke_agent(provider, make_account(fund=False).address)


def test_deregistration_is_final_and_cuts_agents(
    registry: RegistryClient, make_provider: Any, make_account: Any
) -> None:
    provider = make_provider()
    agent = make_account(fund=False)
    registry.authorize_agent(provider, agent.address, _now(registry.w3) + 3600)
    receipt = registry.deregister(provider)
    assert _events(registry, receipt, "ProviderDeregistered") == [{"provider": provider.address}]
    record = registry.record(provider.address)
    assert record.status is Status.DEREGISTERED and record.deregistered_at > 0
    assert not registry.is_authorized_agent(provider.address, agent.address)
    with _revert("ProviderRegistryDeregistered"):
        registry.authorize_agent(provider, make_account(fund=False).address, _now(registry.w3) + 10)
    with _revert("ProviderRegistryDeregistered"):
        registry.register(provider, PROFILE)
    with _revert("ProviderRegistryDeregistered"):
        registry.deregister(provider)


# ---------------------------------------------------------------------- admin


def test_pause_blocks_changes_but_not_revocation(
    registry: RegistryClient, make_provider: Any, make_account: Any
) -> None:
    admin: LocalAccount = registry.admin  # type: ignore[attr-defined]
    provider = make_provider()
    agent = make_account(fund=False)
    registry.authorize_agent(provider, agent.address, _now(registry.w3) + 3600)
    transact(registry.w3, admin, registry.contract.functions.pause())
    with _revert("EnforcedPause"):
        registry.register(make_account(), PROFILE)
    with _revert("EnforcedPause"):
        registry.authorize_agent(provider, make_account(fund=False).address, _now(registry.w3) + 10)
    registry.revoke_agent(provider, agent.address)  # a stolen key can always be cut off
    transact(registry.w3, admin, registry.contract.functions.unpause())
    registry.register(make_account(), PROFILE)


def test_only_owner_pauses_and_ownership_is_two_step(
    registry: RegistryClient, make_account: Any
) -> None:
    admin: LocalAccount = registry.admin  # type: ignore[attr-defined]
    stranger = make_account()
    with _revert("OwnableUnauthorizedAccount"):
        transact(registry.w3, stranger, registry.contract.functions.pause())
    transact(registry.w3, admin, registry.contract.functions.transferOwnership(stranger.address))
    assert registry.contract.functions.owner().call() == admin.address
    transact(registry.w3, stranger, registry.contract.functions.acceptOwnership())
    assert registry.contract.functions.owner().call() == stranger.address


# ---------------------------------------------------------------------- by signature


def test_register_with_sig_relayed(
    registry: RegistryClient, make_account: Any, relayer: LocalAccount
) -> None:
    provider = make_account(fund=False)  # pays no gas
    message = registry.registration(provider.address, PROFILE)
    signature = message.sign(provider, registry.domain)
    receipt = registry.submit_signed(relayer, message, signature)
    assert _events(registry, receipt, "ProviderRegistered")[0]["provider"] == provider.address
    assert registry.record(provider.address).status is Status.ACTIVE
    assert registry.nonce(provider.address) == 1


def test_signature_from_another_account_refused(
    registry: RegistryClient, make_account: Any, relayer: LocalAccount
) -> None:
    provider, impostor = make_account(fund=False), make_account(fund=False)
    message = registry.registration(provider.address, PROFILE)
    with _revert("ProviderRegistryInvalidSignature"):
        registry.submit_signed(relayer, message, message.sign(impostor, registry.domain))


def test_bad_signature_bytes_refused(
    registry: RegistryClient, make_account: Any, relayer: LocalAccount
) -> None:
    provider = make_account(fund=False)
    message = registry.registration(provider.address, PROFILE)
    signature = bytearray(message.sign(provider, registry.domain))
    signature[10] ^= 0xFF
    with _revert("ProviderRegistryInvalidSignature"):
        registry.submit_signed(relayer, message, bytes(signature))
    with _revert("ProviderRegistryInvalidSignature"):
        registry.submit_signed(relayer, message, b"\x01" * 12)


def test_expired_deadline_refused(
    registry: RegistryClient, make_account: Any, relayer: LocalAccount
) -> None:
    provider = make_account(fund=False)
    message = Registration(provider.address, "n", "", "", "", bytes(32), 0, _now(registry.w3) - 1)
    with pytest.raises(ContractRevertError) as info:
        registry.submit_signed(relayer, message, message.sign(provider, registry.domain))
    assert info.value.error_name == "ProviderRegistryExpiredSignature"
    assert info.value.error_args["deadline"] == message.deadline


def test_replayed_nonce_refused(
    registry: RegistryClient, make_provider: Any, make_account: Any, relayer: LocalAccount
) -> None:
    provider = make_provider()
    agent = make_account(fund=False)
    message = registry.agent_authorization(provider.address, agent.address, _now(registry.w3) + 999)
    signature = message.sign(provider, registry.domain)
    registry.submit_signed(relayer, message, signature)
    registry.revoke_agent(provider, agent.address)
    with pytest.raises(ContractRevertError) as info:
        registry.submit_signed(relayer, message, signature)  # replay the same authorization
    assert info.value.error_name == "InvalidAccountNonce"
    assert info.value.error_args["currentNonce"] == 1


@pytest.mark.parametrize("wrong", ["chain", "contract", "name"])
def test_signature_for_another_domain_refused(
    registry: RegistryClient, make_account: Any, relayer: LocalAccount, wrong: str
) -> None:
    provider = make_account(fund=False)
    message = registry.registration(provider.address, PROFILE)
    d = registry.domain
    other = {
        "chain": Domain(d.name, d.version, d.chain_id + 1, d.verifying_contract),
        "contract": Domain(d.name, d.version, d.chain_id, "0x" + "ab" * 20),
        "name": Domain("Other", d.version, d.chain_id, d.verifying_contract),
    }[wrong]
    with _revert("ProviderRegistryInvalidSignature"):
        registry.submit_signed(relayer, message, message.sign(provider, other))


def test_every_action_by_signature(
    registry: RegistryClient, make_account: Any, relayer: LocalAccount
) -> None:
    provider = make_account(fund=False)
    agent = make_account(fund=False)
    domain = registry.domain

    def relay(message: Any) -> Any:
        return registry.submit_signed(relayer, message, message.sign(provider, domain))

    relay(registry.registration(provider.address, PROFILE))
    receipt = relay(registry.profile_update(provider.address, Profile("Renamed")))
    assert _events(registry, receipt, "ProviderUpdated")[0]["name"] == "Renamed"
    relay(registry.agent_authorization(provider.address, agent.address, _now(registry.w3) + 500))
    assert registry.is_authorized_agent(provider.address, agent.address)
    relay(registry.agent_revocation(provider.address, agent.address))
    assert not registry.is_authorized_agent(provider.address, agent.address)
    relay(registry.deregistration(provider.address))
    assert registry.record(provider.address).status is Status.DEREGISTERED
    assert registry.nonce(provider.address) == 5


def test_authorizing_agent_while_deregistered_refused_by_signature(
    registry: RegistryClient, make_provider: Any, make_account: Any, relayer: LocalAccount
) -> None:
    provider = make_provider()
    registry.deregister(provider)
    message = registry.agent_authorization(
        provider.address, make_account(fund=False).address, _now(registry.w3) + 500
    )
    with _revert("ProviderRegistryDeregistered"):
        registry.submit_signed(relayer, message, message.sign(provider, registry.domain))


# ---------------------------------------------------------------------- ERC-1271 wallets


@pytest.fixture
def contract_wallet(w3: Web3, make_account: Any) -> tuple[Any, LocalAccount]:
    owner = make_account()
    artifact = artifacts.load("TestContractWallet")
    receipt = deploy(w3, owner, artifact.abi, artifact.bytecode, owner.address)
    wallet = w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)
    return wallet, owner


def test_erc1271_wallet_accepted_when_it_approves(
    registry: RegistryClient, contract_wallet: tuple[Any, LocalAccount], relayer: LocalAccount
) -> None:
    wallet, owner = contract_wallet
    message = registry.registration(wallet.address, PROFILE)
    registry.submit_signed(relayer, message, message.sign(owner, registry.domain))
    assert registry.record(wallet.address).status is Status.ACTIVE


def test_erc1271_wallet_refused_when_it_does_not_approve(
    registry: RegistryClient, contract_wallet: tuple[Any, LocalAccount], relayer: LocalAccount
) -> None:
    wallet, owner = contract_wallet
    transact(registry.w3, owner, wallet.functions.setApproving(False))
    message = registry.registration(wallet.address, PROFILE)
    with _revert("ProviderRegistryInvalidSignature"):
        registry.submit_signed(relayer, message, message.sign(owner, registry.domain))


def test_erc1271_wallet_registers_by_transaction(
    registry: RegistryClient, contract_wallet: tuple[Any, LocalAccount]
) -> None:
    wallet, owner = contract_wallet
    data = registry.contract.encode_abi("register", args=[PROFILE.as_tuple()])
    transact(registry.w3, owner, wallet.functions.execute(registry.address, data))
    assert registry.record(wallet.address).status is Status.ACTIVE


def test_domain_read_from_contract(registry: RegistryClient, w3: Web3) -> None:
    assert registry.domain == Domain(
        "DePIN ProviderRegistry", "1", w3.eth.chain_id, registry.address
    )
