"""The agent key store: encrypted, owner-only, refused with a reason otherwise."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from agent.errors import (
    AgentError,
    KeystoreExistsError,
    KeystoreNotFoundError,
    KeystorePermissionError,
    MalformedKeystoreError,
    PasswordError,
    WrongPasswordError,
)
from agent.keystore import (
    authorization_request,
    create_keystore,
    load_agent_key,
    read_password,
)
from depin.errors import DepinError

PASSWORD = "correct horse battery"


@pytest.fixture
def keystore(tmp_path: Path) -> Path:
    path = tmp_path / "agent" / "keystore.json"
    create_keystore(path, PASSWORD)
    return path


def test_created_owner_only_and_encrypted(keystore: Path) -> None:
    assert keystore.stat().st_mode & 0o777 == 0o600
    data = json.loads(keystore.read_text())
    assert data["crypto"]["kdf"] == "scrypt"
    assert not list(keystore.parent.glob(".*.tmp"))


def test_loads_with_the_right_password_and_signs(keystore: Path) -> None:
    account = load_agent_key(keystore, PASSWORD)
    message = encode_defunct(text="heartbeat 42")
    signed = account.sign_message(message)
    assert Account.recover_message(message, signature=signed.signature) == account.address
    assert json.loads(keystore.read_text())["address"].lower() == account.address[2:].lower()


def test_wrong_password_is_refused_by_name(keystore: Path) -> None:
    with pytest.raises(WrongPasswordError) as info:
        load_agent_key(keystore, "not the password")
    assert str(info.value.message) == f"wrong password for agent keystore {keystore}"
    assert isinstance(info.value, DepinError)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_group_or_world_readable_keystore_is_refused(keystore: Path, mode: int) -> None:
    os.chmod(keystore, mode)
    with pytest.raises(KeystorePermissionError) as info:
        load_agent_key(keystore, PASSWORD)
    assert info.value.mode == mode
    assert info.value.message == (
        f"agent keystore {keystore} has mode {mode:04o}, readable by group or others; "
        f"run `chmod 600 {keystore}`"
    )


def test_owner_read_only_is_accepted(keystore: Path) -> None:
    os.chmod(keystore, 0o400)
    assert load_agent_key(keystore, PASSWORD).address


def test_missing_keystore(tmp_path: Path) -> None:
    with pytest.raises(KeystoreNotFoundError, match=r"no agent keystore at .*depin agent init"):
        load_agent_key(tmp_path / "none.json", PASSWORD)


def test_malformed_keystore(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    path.chmod(0o600)
    with pytest.raises(MalformedKeystoreError, match="is not a valid keystore: not JSON"):
        load_agent_key(path, PASSWORD)
    path.write_text(json.dumps({"address": "00"}))
    with pytest.raises(MalformedKeystoreError, match="no 'crypto' section"):
        load_agent_key(path, PASSWORD)


def test_existing_keystore_is_not_overwritten(keystore: Path) -> None:
    first = load_agent_key(keystore, PASSWORD).address
    with pytest.raises(KeystoreExistsError, match="pass --force to replace it"):
        create_keystore(keystore, PASSWORD)
    assert load_agent_key(keystore, PASSWORD).address == first
    second = create_keystore(keystore, PASSWORD, force=True)
    assert second.address != first


def test_short_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PasswordError, match="at least 8 characters"):
        create_keystore(tmp_path / "k.json", "short")
    assert not (tmp_path / "k.json").exists()


def test_password_sources(tmp_path: Path) -> None:
    file = tmp_path / "pw"
    file.write_text("from a file\n")
    file.chmod(0o600)
    assert read_password(file, env={"DEPIN_AGENT_PASSWORD": "env"}) == "from a file"
    assert read_password(None, env={"DEPIN_AGENT_PASSWORD": "from env"}) == "from env"
    assert read_password(None, env={}) is None


def test_readable_password_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "pw"
    file.write_text("secret")
    file.chmod(0o644)
    with pytest.raises(PasswordError, match="has mode 0644, readable by group or others"):
        read_password(file)
    with pytest.raises(PasswordError, match="does not exist"):
        read_password(tmp_path / "absent")


def test_authorization_request() -> None:
    request = authorization_request("0xabc", ttl_s=3600, now=1_700_000_000)
    assert request == {"agent": "0xabc", "expiresAt": 1_700_003_600}
    with pytest.raises(AgentError, match="lifetime must be positive"):
        authorization_request("0xabc", ttl_s=0)
