"""Errors of the GPU host agent: discovery, benchmarks and its key store."""

from __future__ import annotations

from pathlib import Path

from depin.errors import DepinError


class AgentError(DepinError):
    """Base of every agent error."""

    code = "agent_error"


class KeystoreError(AgentError):
    code = "keystore"


class KeystoreNotFoundError(KeystoreError):
    code = "keystore_not_found"

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"no agent keystore at {path}; create one with `depin agent init`")


class KeystoreExistsError(KeystoreError):
    code = "keystore_exists"

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"an agent keystore already exists at {path}; pass --force to replace it")


class KeystorePermissionError(KeystoreError):
    """The keystore file can be read by users other than its owner."""

    code = "keystore_permissions"

    def __init__(self, path: Path, mode: int) -> None:
        self.path = path
        self.mode = mode
        super().__init__(
            f"agent keystore {path} has mode {mode:04o}, readable by group or others; "
            f"run `chmod 600 {path}`"
        )


class WrongPasswordError(KeystoreError):
    code = "wrong_password"

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"wrong password for agent keystore {path}")


class MalformedKeystoreError(KeystoreError):
    code = "malformed_keystore"

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"agent keystore {path} is not a valid keystore: {reason}")


class PasswordError(KeystoreError):
    """No usable password was given."""

    code = "password"


class BenchmarkError(AgentError):
    code = "benchmark"


class RecordingError(AgentError):
    """A recorded vendor-library session could not be read or does not cover a call."""

    code = "recording"
