"""The agent's hot key: an eth-account scrypt keystore readable only by its owner."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from agent.errors import AgentError
from depin.keys import (
    MIN_PASSWORD_LENGTH,
    KeystoreExistsError,
    KeystoreNotFoundError,
    MalformedKeystoreError,
    PasswordError,
    WrongPasswordError,
    load_keystore,
    read_password_file,
)
from depin.keys import check_permissions as _check_permissions
from depin.keys import create_keystore as _create_keystore

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "KeystoreExistsError",
    "KeystoreNotFoundError",
    "MalformedKeystoreError",
    "PasswordError",
    "WrongPasswordError",
    "authorization_request",
    "check_permissions",
    "create_keystore",
    "load_agent_key",
    "read_password",
]

LABEL = "agent keystore"
PASSWORD_ENV = "DEPIN_AGENT_PASSWORD"
DEFAULT_AUTHORIZATION_TTL_S = 30 * 24 * 3600


def check_permissions(path: Path) -> None:
    """Refuse a keystore that its group or other users can read or write."""
    _check_permissions(path, LABEL)


def create_keystore(
    path: Path, password: str, *, force: bool = False, private_key: bytes | None = None
) -> LocalAccount:
    """Generate a key (or take ``private_key``), encrypt it and write it with mode 0600."""
    return _create_keystore(path, password, force=force, private_key=private_key, label=LABEL)


def load_agent_key(path: Path, password: str) -> LocalAccount:
    """Decrypt the agent keystore at ``path`` (see :func:`depin.keys.load_keystore`)."""
    return load_keystore(path, password, label=LABEL, hint="create one with `depin agent init`")


def read_password(
    password_file: Path | None = None, env: dict[str, str] | None = None
) -> str | None:
    """The password from ``--password-file`` or ``DEPIN_AGENT_PASSWORD``; ``None`` if neither.

    A password file must not be readable by group or others either.
    """
    if password_file is not None:
        return read_password_file(password_file)
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
