"""The project's exception hierarchy.

Every error a user can meet derives from :class:`DepinError`, a plain exception with a stable
``code``. The edges turn them into what their users read: the ``depin`` command line into one
sentence (:mod:`depin.cli`), the HTTP services into problem documents (:mod:`depin.problems`).

A leaf error is declared by its facts: under :func:`facts`, its annotated attributes are its
constructor's arguments and its ``template`` (or its ``describe()``) is its sentence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform


class DepinError(Exception):
    """Base of every depin error. ``retryable`` marks errors that are safe to retry.

    Attributes:
        message: the sentence a user reads (also ``str(error)``).
    """

    retryable: bool = False
    code: str = "depin_error"
    #: the sentence of a :func:`facts` error, formatted with its facts
    template: ClassVar[str] = ""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def describe(self) -> str:
        """The sentence of a :func:`facts` error: ``template`` with its facts filled in."""
        return self.template.format_map(vars(self))


_Error = TypeVar("_Error", bound=type[DepinError])


@dataclass_transform(eq_default=False)
def facts(cls: _Error) -> _Error:
    """Builds an error from the facts it carries: the class's annotated attributes become its
    constructor's arguments (in order; defaults allowed) and its message is
    :meth:`~DepinError.describe`, by default ``template`` formatted with them."""
    message_init: Callable[[Any, str], None] = next(
        base.__dict__["__init__"]
        for base in cls.__mro__[1:]
        if "__init__" in base.__dict__ and not dataclasses.is_dataclass(base)
    )

    def __post_init__(self: DepinError) -> None:
        message_init(self, self.describe())

    cls.__post_init__ = __post_init__  # type: ignore[attr-defined]
    dataclasses.dataclass(cls, repr=False, eq=False)  # in place: the class itself comes back
    return cls


class ToolchainError(DepinError):
    code = "toolchain"


class ConfigurationError(DepinError):
    code = "configuration"


@facts
class DeploymentNotFoundError(ConfigurationError):
    code = "deployment_not_found"
    template = "no {contract} deployment recorded for chain {chain_id}; run `depin deploy` first"
    chain_id: int
    contract: str


class SignatureError(DepinError):
    code = "invalid_signature"


class ChainError(DepinError):
    """A transaction or call to the chain failed."""

    code = "chain_error"


@facts
class InsufficientFundsError(ChainError):
    """The sending account cannot pay for the transaction's gas."""

    code = "insufficient_funds"
    template = "the account {address} has too little ETH to pay for gas: {hint}"
    address: str
    hint: str = "fund it and try again"


class ContractRevertError(ChainError):
    """A call reverted with a named custom error."""

    code = "contract_revert"

    def __init__(self, error_name: str, args: dict[str, object] | None = None) -> None:
        self.error_name = error_name
        self.error_args = dict(args or {})
        shown = ", ".join(f"{k}={v}" for k, v in self.error_args.items())
        super().__init__(f"the contract refused: {error_name}({shown})")


@facts
class NodeUnavailableError(ChainError):
    """The node kept failing in ways that usually heal (lag, rate limits, 5xx, timeouts, resets,
    broken answers) for longer than the retry budget."""

    code = "node_unavailable"
    retryable = True
    template = "{method} failed {tries} times in {waited:.0f}s; the last failure: {last}"
    method: str
    last: str
    tries: int
    waited: float
    kind: str = "unknown"


@facts
class RetryInterruptedError(DepinError):
    """A retry was waiting when the process was asked to stop."""

    code = "retry_interrupted"
    template = "stopped while waiting to retry {method}"
    method: str


@facts
class WrongChainError(ConfigurationError):
    """The node serves another chain than the one configured or recorded: no retry can help."""

    code = "wrong_chain"
    template = (
        "the node is on chain {actual}, but {where} is chain {expected}; point the RPC URL at "
        "the right network"
    )
    expected: int
    actual: int
    where: str


@facts
class ContractNotDeployedError(ConfigurationError):
    """No code at a contract's recorded address: the wrong network, or a chain reset since the
    deployment."""

    code = "contract_not_deployed"
    template = (
        "no {contract} code at {address} on chain {chain_id}: the chain was reset or the "
        "address is from another network; run `depin deploy` or fix the recorded address"
    )
    contract: str
    address: str
    chain_id: int
