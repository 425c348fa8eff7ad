"""Encrypted key stores: permissions, wrong passwords, signatures from the stored key."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from depin.keys import (
    InsecureKeystoreError,
    KeystoreError,
    WrongPasswordError,
    create_keystore,
    keystore_address,
    load_keystore,
)


def test_created_with_mode_0600_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    account = create_keystore(path, "password-1")
    assert path.stat().st_mode & 0o777 == 0o600
    assert keystore_address(path) == account.address
    loaded = load_keystore(path, "password-1")
    signed = loaded.sign_message(encode_defunct(text="hello"))
    assert (
        Account.recover_message(encode_defunct(text="hello"), signature=signed.signature)
        == account.address
    )


def test_wrong_password_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    create_keystore(path, "password-1")
    with pytest.raises(WrongPasswordError, match="wrong password"):
        load_keystore(path, "password-2")


def test_world_readable_keystore_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    create_keystore(path, "password-1")
    path.chmod(0o644)
    with pytest.raises(InsecureKeystoreError, match="chmod 600"):
        load_keystore(path, "password-1")


def test_refuses_to_overwrite_and_empty_password(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    create_keystore(path, "password-1")
    with pytest.raises(KeystoreError, match="pass --force"):
        create_keystore(path, "password-1")
    with pytest.raises(KeystoreError, match="at least 8 characters"):
        create_keystore(tmp_path / "other.json", "short")


def test_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="no key store"):
        load_keystore(tmp_path / "missing.json", "password-1")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    bad.chmod(0o600)
    with pytest.raises(KeystoreError, match="not a valid keystore: not JSON"):
        load_keystore(bad, "password-1")
