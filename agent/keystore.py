"""The agent's hot key: an eth-account scrypt keystore readable only by its owner."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from agent.errors import (
    AgentError,
    KeystoreExistsError,
    KeystoreNotFoundError,
    KeystorePermissionError,
    MalformedKeystoreError,
    PasswordError,
    WrongPasswordError,
)

PASSWORD_ENV = "DEPIN_AGENT_PASSWORD"
DEFAULT_AUTHORIZATION_TTL_S = 30 * 24 * 3600
MIN_PASSWORD_LENGTH = 8


def check_permissions(path: Path) -> None:
    """Refuse a keystore that its group or other users can read or write."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeystorePermissionError(path, mode)


def create_keystore(
    path: Path, password: str, *, force: bool = False, private_key: bytes | None = None
) -> LocalAccount:
    """Generate a key (or take ``private_key``), encrypt it and write it with mode 0600.

    The file is created with 0600 from the start (never briefly readable by others).
    """
    path = Path(path)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(
            f"the keystore password must have at least {MIN_PASSWORD_LENGTH} characters"
        )
    if path.exists() and not force:
        raise KeystoreExistsError(path)
    account: LocalAccount = (
        Account.from_key(private_key) if private_key is not None else Account.create()
    )
    encrypted = Account.encrypt(account.key, password, kdf="scrypt")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(encrypted, fh)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return account


def load_agent_key(path: Path, password: str) -> LocalAccount:
    """Decrypt the agent keystore at ``path``.

    Raises:
        KeystoreNotFoundError: no file there.
        KeystorePermissionError: the file is readable by group or others.
        MalformedKeystoreError: the file is not an eth-account keystore.
        WrongPasswordError: the password does not decrypt it.
    """
    path = Path(path)
    if not path.is_file():
        raise KeystoreNotFoundError(path)
    check_permissions(path)
    try:
        data: Any = json.loads(path.read_text())
    except ValueError as exc:
        raise MalformedKeystoreError(path, f"not JSON ({exc})") from exc
    if not isinstance(data, dict) or "crypto" not in {k.lower() for k in data}:
        raise MalformedKeystoreError(path, "no 'crypto' section")
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise WrongPasswordError(path) from exc
        raise MalformedKeystoreError(path, str(exc)) from exc
    except (KeyError, TypeError) as exc:
        raise MalformedKeystoreError(path, f"missing field {exc}") from exc
    account: LocalAccount = Account.from_key(key)
    return account


def read_password(
    password_file: Path | None = None, env: dict[str, str] | None = None
) -> str | None:
    """The password from ``--password-file`` or ``DEPIN_AGENT_PASSWORD``; ``None`` if neither.

    A password file must not be readable by group or others either.
    """
    if password_file is not None:
        path = Path(password_file)
        if not path.is_file():
            raise PasswordError(f"password file {path} does not exist")
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PasswordError(
                f"password file {path} has mode {mode:04o}, readable by group or others; "
                f"run `chmod 600 {path}`"
            )
        return path.read_text().rstrip("\r\n")
    value = (os.environ if env is None else env).get(PASSWORD_ENV)
    return value if value else None


def authorization_request(
    address: str, *, ttl_s: int = DEFAULT_AUTHORIZATION_TTL_S, now: float | None = None
) -> dict[str, Any]:
    """The request a provider turns into an on-chain agent authorization.

    ``depin provider authorize-agent --request FILE`` reads this JSON.
    """
    if ttl_s <= 0:
        raise AgentError(f"the authorization lifetime must be positive, got {ttl_s} s")
    issued = int(time.time() if now is None else now)
    return {"agent": address, "expiresAt": issued + ttl_s}
