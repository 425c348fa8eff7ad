"""depin.crypto against eth-account and eth-utils: keccak, signing, recovery, EIP-55, hex."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak as eth_keccak
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from depin.crypto import (
    SECP256K1_N,
    DigestSigner,
    checksum_address,
    hex_bytes,
    is_bytes32,
    keccak,
    recover,
    recover_bytes,
    same_address,
    sign_digest,
    to_hex,
)
from depin.errors import SignatureError

keys = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))
digests = st.binary(min_size=32, max_size=32)


@given(data=st.binary(max_size=300))
def test_keccak_equals_eth_utils(data: bytes) -> None:
    assert keccak(data) == eth_keccak(data)


@settings(max_examples=100, deadline=None)
@given(key=keys, digest=digests)
def test_signature_equals_eth_accounts_and_recovers_its_signer(key: bytes, digest: bytes) -> None:
    account = Account.from_key(key)
    signature = sign_digest(account, digest)
    assert signature == bytes(Account.unsafe_sign_hash(digest, key).signature)
    assert signature == DigestSigner(key).sign(digest) == sign_digest(key, digest)
    assert recover(digest, signature) == account.address
    assert recover(digest, signature[:64] + bytes([signature[64] - 27])) == account.address
    assert same_address(account.address.lower(), recover_bytes(digest, signature))


def test_a_malleable_high_s_signature_is_refused_with_its_reason() -> None:
    digest = b"\x07" * 32
    signature = sign_digest(b"\x01" * 32, digest)
    s = int.from_bytes(signature[32:64], "big")
    flipped = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    with pytest.raises(SignatureError, match="upper half"):
        recover(digest, flipped)


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (b"\x00" * 64, "65 bytes"),
        (b"\x00" * 64 + b"\x1d", "bad recovery id"),
        (b"\x00" * 65, "does not recover"),
    ],
)
def test_a_malformed_signature_is_refused_with_its_reason(signature: bytes, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        recover(b"\x00" * 32, signature)


@settings(max_examples=500, deadline=None)
@given(raw=st.binary(min_size=20, max_size=20), upper=st.booleans())
def test_checksum_equals_eth_utils(raw: bytes, upper: bool) -> None:
    text = "0x" + (raw.hex().upper() if upper else raw.hex())
    assert checksum_address(text) == to_checksum_address(text)
    assert checksum_address(raw) == to_checksum_address(raw)


@pytest.mark.parametrize("address", ["0x" + "zz" * 20, "0x" + "11" * 19, "0x" + "11" * 21, "1"])
def test_checksum_refuses_what_is_not_an_address(address: str) -> None:
    with pytest.raises(ValueError):
        checksum_address(address)


def test_hex_round_trip_and_size_checks() -> None:
    raw = bytes(range(32))
    assert hex_bytes(to_hex(raw), 32) == raw == hex_bytes(raw.hex()) == hex_bytes(raw)
    assert is_bytes32(raw) and not is_bytes32(raw[:31]) and not is_bytes32(to_hex(raw))
    with pytest.raises(ValueError, match="expected 32 bytes, got 31"):
        hex_bytes(to_hex(raw[:31]), 32)
    with pytest.raises(ValueError, match="0x-prefixed hex string"):
        hex_bytes(32)
    with pytest.raises(ValueError):
        hex_bytes("0xzz")
