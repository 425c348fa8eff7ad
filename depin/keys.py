"""Encrypted key stores (eth-account's scrypt keystore) for agents, oracles, relayers, providers.

A key store file is written atomically with mode 0600 from the start (never briefly readable by
others) and refused when group- or world-accessible, as ssh refuses a private key anyone can
read. ``label`` names the key store in messages ("agent keystore", "oracle keystore", ...).
"""

from __future__ import annotations

import getpass
import json
import os
import stat
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from depin.errors import DepinError, facts

MIN_PASSWORD_LENGTH = 8


class KeystoreError(DepinError):
    code = "keystore"


@facts
class KeystoreNotFoundError(KeystoreError):
    code = "keystore_not_found"
    path: Path
    hint: str = ""
    label: str = "key store"

    def describe(self) -> str:
        return f"no {self.label} at {self.path}" + (f"; {self.hint}" if self.hint else "")


@facts
class KeystoreExistsError(KeystoreError):
    code = "keystore_exists"
    path: Path
    label: str = "key store"

    def describe(self) -> str:
        article = "an" if self.label[0] in "aeiou" else "a"
        return f"{article} {self.label} already exists at {self.path}; pass --force to replace it"


@facts
class InsecureKeystoreError(KeystoreError):
    """The key store file can be read by users other than its owner."""

    code = "keystore_permissions"
    template = (
        "{label} {path} has mode {mode:04o}, readable by group or others; run `chmod 600 {path}`"
    )
    path: Path
    mode: int
    label: str = "key store"


@facts
class WrongPasswordError(KeystoreError):
    code = "wrong_password"
    template = "wrong password for {label} {path}"
    path: Path
    label: str = "key store"


@facts
class MalformedKeystoreError(KeystoreError):
    code = "malformed_keystore"
    template = "{label} {path} is not a valid keystore: {reason}"
    path: Path
    reason: str
    label: str = "key store"


class PasswordError(KeystoreError):
    """No usable password was given."""

    code = "password"


def check_permissions(path: Path, label: str = "key store") -> None:
    """Refuses a file that its group or other users can read or write."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InsecureKeystoreError(path, mode, label)


def create_keystore(
    path: Path,
    password: str,
    *,
    force: bool = False,
    private_key: bytes | None = None,
    label: str = "key store",
) -> LocalAccount:
    """Generates a key (or takes ``private_key``), encrypts it and writes it with mode 0600."""
    path = Path(path)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(
            f"the {label} password must have at least {MIN_PASSWORD_LENGTH} characters"
        )
    if path.exists() and not force:
        raise KeystoreExistsError(path, label)
    account: LocalAccount = (
        Account.from_key(private_key) if private_key is not None else Account.create()
    )
    encrypted = Account.encrypt(account.key, password, kdf="scrypt")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(encrypted, handle)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return account


def keystore_address(path: Path) -> str:
    """The address recorded in a key store file, without decrypting it."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read key store {path}: {exc}") from exc
    if not isinstance(data, dict) or "address" not in data:
        raise MalformedKeystoreError(Path(path), "no address")
    return str(to_checksum_address("0x" + str(data["address"])[-40:]))


def load_keystore(
    path: Path, password: str, *, label: str = "key store", hint: str = ""
) -> LocalAccount:
    """Decrypts the key store at ``path``.

    Raises:
        KeystoreNotFoundError: no file there.
        InsecureKeystoreError: the file is readable by group or others.
        MalformedKeystoreError: the file is not an eth-account key store.
        WrongPasswordError: the password does not decrypt it.
    """
    path = Path(path)
    if not path.is_file():
        raise KeystoreNotFoundError(path, hint, label)
    check_permissions(path, label)
    try:
        data: Any = json.loads(path.read_text())
    except ValueError as exc:
        raise MalformedKeystoreError(path, f"not JSON ({exc})", label) from exc
    if not isinstance(data, dict) or "crypto" not in {k.lower() for k in data}:
        raise MalformedKeystoreError(path, "no 'crypto' section", label)
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise WrongPasswordError(path, label) from None
        raise MalformedKeystoreError(path, str(exc), label) from exc
    except (KeyError, TypeError) as exc:
        raise MalformedKeystoreError(path, f"missing field {exc}", label) from exc
    account: LocalAccount = Account.from_key(key)
    return account


def read_password_file(path: Path) -> str:
    """A password from a file that only its owner can read."""
    path = Path(path)
    if not path.is_file():
        raise PasswordError(f"password file {path} does not exist")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PasswordError(
            f"password file {path} has mode {mode:04o}, readable by group or others; "
            f"run `chmod 600 {path}`"
        )
    return path.read_text().rstrip("\r\n")


def read_password(*, env_var: str, password_file: Path | None, prompt: str | None) -> str:
    """A password from a file, else an environment variable, else an interactive prompt."""
    if password_file is not None:
        return read_password_file(password_file)
    value = os.environ.get(env_var)
    if value:
        return value
    if prompt is None:
        raise PasswordError(f"no password: set {env_var} or pass --password-file")
    while not (value := getpass.getpass(f"{prompt}: ")):
        pass  # asked again, as a prompt without a default is
    return value
