"""Errors of the GPU host agent: discovery, benchmarks and its key store."""

from __future__ import annotations

from depin.errors import DepinError


class AgentError(DepinError):
    """Base of every agent error."""

    code = "agent_error"


# The key store errors are shared with every role that holds a key.
from depin.keys import (  # noqa: E402
    InsecureKeystoreError as KeystorePermissionError,
)
from depin.keys import (  # noqa: E402
    KeystoreError,
    KeystoreExistsError,
    KeystoreNotFoundError,
    MalformedKeystoreError,
    PasswordError,
    WrongPasswordError,
)

__all__ = [
    "AgentError",
    "BenchmarkError",
    "KeystoreError",
    "KeystoreExistsError",
    "KeystoreNotFoundError",
    "KeystorePermissionError",
    "MalformedKeystoreError",
    "PasswordError",
    "RecordingError",
    "WrongPasswordError",
]


class BenchmarkError(AgentError):
    code = "benchmark"


class RecordingError(AgentError):
    """A recorded vendor-library session could not be read or does not cover a call."""

    code = "recording"
