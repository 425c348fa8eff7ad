"""The Python EIP-712 encoding equals eth-account's and the contract's, for any message."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from depin.eip712 import Domain, parse_typed_data, recover
from depin.errors import SignatureError
from depin.messages import (
    REGISTRY_MESSAGES,
    AgentAuthorization,
    AgentRevocation,
    Deregistration,
    ProfileUpdate,
    Registration,
)
from depin.registry import RegistryClient

addresses = st.binary(min_size=20, max_size=20).map(lambda b: to_checksum_address("0x" + b.hex()))
text = st.text(max_size=40)
uint256 = st.integers(min_value=0, max_value=2**256 - 1)
uint64 = st.integers(min_value=0, max_value=2**64 - 1)
profiles = st.tuples(text, text, text, text, st.binary(min_size=32, max_size=32))

_TYPEHASH_GETTERS = {
    Registration: "REGISTRATION_TYPEHASH",
    ProfileUpdate: "PROFILE_UPDATE_TYPEHASH",
    AgentAuthorization: "AGENT_AUTHORIZATION_TYPEHASH",
    AgentRevocation: "AGENT_REVOCATION_TYPEHASH",
    Deregistration: "DEREGISTRATION_TYPEHASH",
}


@pytest.mark.parametrize("message_type", list(_TYPEHASH_GETTERS))
def test_typehash_equals_contract_constant(registry: RegistryClient, message_type: Any) -> None:
    getter = getattr(registry.contract.functions, _TYPEHASH_GETTERS[message_type])
    assert getter().call() == message_type.TYPEHASH
    assert keccak(text=message_type.TYPE_STRING) == message_type.TYPEHASH


_SLOW = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SLOW
@given(provider=addresses, profile=profiles, nonce=uint256, deadline=uint256)
def test_profile_digests_equal_contract(
    registry: RegistryClient, provider: str, profile: tuple[Any, ...], nonce: int, deadline: int
) -> None:
    f = registry.contract.functions
    for cls, view in ((Registration, f.registrationDigest), (ProfileUpdate, f.profileUpdateDigest)):
        message = cls(provider, *profile, nonce, deadline)
        assert view(provider, profile, nonce, deadline).call() == message.digest(registry.domain)


@_SLOW
@given(provider=addresses, agent=addresses, expires=uint64, nonce=uint256, deadline=uint256)
def test_agent_digests_equal_contract(
    registry: RegistryClient, provider: str, agent: str, expires: int, nonce: int, deadline: int
) -> None:
    f = registry.contract.functions
    domain = registry.domain
    authorization = AgentAuthorization(provider, agent, expires, nonce, deadline)
    assert f.agentAuthorizationDigest(
        provider, agent, expires, nonce, deadline
    ).call() == authorization.digest(domain)
    revocation = AgentRevocation(provider, agent, nonce, deadline)
    assert f.agentRevocationDigest(provider, agent, nonce, deadline).call() == revocation.digest(
        domain
    )
    assert f.deregistrationDigest(provider, nonce, deadline).call() == Deregistration(
        provider, nonce, deadline
    ).digest(domain)


domains = st.builds(
    Domain,
    name=text,
    version=text,
    chain_id=st.integers(min_value=1, max_value=2**63),
    verifying_contract=addresses,
)


@settings(max_examples=150, deadline=None)
@given(domain=domains, provider=addresses, profile=profiles, nonce=uint256, deadline=uint256)
def test_digest_equals_eth_account_typed_data(
    domain: Domain, provider: str, profile: tuple[Any, ...], nonce: int, deadline: int
) -> None:
    message = Registration(provider, *profile, nonce, deadline)
    encoded = encode_typed_data(full_message=message.typed_data(domain))
    assert keccak(b"\x19" + encoded.version + encoded.header + encoded.body) == message.digest(
        domain
    )
    # and the JSON round trip a wallet makes gives back the same message
    parsed_domain, parsed = parse_typed_data(message.typed_data(domain), REGISTRY_MESSAGES)
    assert parsed_domain == domain and parsed == message


def test_wallet_signature_recovers_to_signer() -> None:
    account = Account.create()
    domain = Domain("DePIN ProviderRegistry", "1", 31337, "0x" + "12" * 20)
    message = AgentRevocation(account.address, "0x" + "34" * 20, 3, 10**10)
    wallet_signature = Account.sign_typed_data(account.key, full_message=message.typed_data(domain))
    assert bytes(wallet_signature.signature) == message.sign(account, domain)
    assert recover(message.digest(domain), bytes(wallet_signature.signature)) == account.address


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.update(primaryType="Nope"), "unknown or missing primaryType"),
        (lambda d: d["types"]["Deregistration"].pop(), "declares Deregistration differently"),
        (lambda d: d["message"].pop("nonce"), "lacks field 'nonce'"),
        (lambda d: d["message"].update(nonce="many"), "malformed Deregistration"),
        (lambda d: d.pop("domain"), "malformed Deregistration"),
    ],
)
def test_malformed_typed_data_refused_with_reason(mutate: Any, reason: str) -> None:
    domain = Domain("DePIN ProviderRegistry", "1", 31337, "0x" + "12" * 20)
    data = Deregistration("0x" + "56" * 20, 1, 2).typed_data(domain)
    mutate(data)
    with pytest.raises(SignatureError, match=reason):
        parse_typed_data(data, REGISTRY_MESSAGES)


@pytest.mark.parametrize("signature", [b"", b"\x00" * 64, b"\x00" * 65])
def test_unrecoverable_signature_refused(signature: bytes) -> None:
    with pytest.raises(SignatureError):
        recover(b"\x00" * 32, signature)
