"""Encrypted key stores (eth-account's scrypt keystore) for agents, oracles, relayers, providers.

A key store file is created with mode 0600 and refused when group- or world-readable, like ssh
refuses a private key anyone can read.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from depin.errors import DepinError


class KeystoreError(DepinError):
    code = "keystore"


class WrongPasswordError(KeystoreError):
    code = "wrong_password"

    def __init__(self, path: Path) -> None:
        super().__init__(f"wrong password for key store {path} (MAC mismatch)")


class InsecureKeystoreError(KeystoreError):
    code = "insecure_keystore"

    def __init__(self, path: Path, mode: int) -> None:
        super().__init__(
            f"key store {path} is readable by others (mode {oct(mode)}); run: chmod 600 {path}"
        )


def create_keystore(path: Path, password: str, *, private_key: bytes | None = None) -> LocalAccount:
    """Writes a new (or the given) key to ``path`` encrypted with ``password``, mode 0600."""
    if not password:
        raise KeystoreError("refusing an empty key store password")
    if path.exists():
        raise KeystoreError(f"{path} exists; refusing to overwrite a key store")
    account: LocalAccount = (
        Account.from_key(private_key) if private_key is not None else Account.create()
    )
    encrypted = Account.encrypt(account.key, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(encrypted, handle)
    return account


def keystore_address(path: Path) -> str:
    """The address recorded in a key store file, without decrypting it."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read key store {path}: {exc}") from exc
    if "address" not in data:
        raise KeystoreError(f"{path} is not an eth-account key store (no address)")
    from eth_utils import to_checksum_address

    return str(to_checksum_address("0x" + str(data["address"])[-40:]))


def load_keystore(path: Path, password: str) -> LocalAccount:
    """Decrypts the key store at ``path``.

    Raises:
        InsecureKeystoreError: the file is group- or world-accessible.
        WrongPasswordError: the password does not decrypt it.
        KeystoreError: the file is missing or not a key store.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        raise KeystoreError(f"no key store at {path}") from None
    if mode & 0o077:
        raise InsecureKeystoreError(path, mode)
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise KeystoreError(f"{path} is not JSON: {exc}") from exc
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise WrongPasswordError(path) from None
        raise KeystoreError(f"{path} is not a valid key store: {exc}") from exc
    account: LocalAccount = Account.from_key(key)
    return account


def read_password(*, env_var: str, password_file: Path | None, prompt: str | None) -> str:
    """A password from a file, else an environment variable, else an interactive prompt."""
    if password_file is not None:
        return password_file.read_text().rstrip("\n")
    value = os.environ.get(env_var)
    if value is not None:
        return value
    if prompt is None:
        raise KeystoreError(f"no password: set {env_var} or pass --password-file")
    import click

    return str(click.prompt(prompt, hide_input=True))
