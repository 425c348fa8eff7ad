"""The project's exception hierarchy.

Every error a user can meet derives from :class:`DepinError`, a plain exception with a stable
``code``. The edges turn them into what their users read: the ``depin`` command line into one
sentence (:mod:`depin.cli`), the HTTP services into problem documents (:mod:`depin.problems`).
"""

from __future__ import annotations


class DepinError(Exception):
    """Base of every depin error. ``retryable`` marks errors that are safe to retry.

    Attributes:
        message: the sentence a user reads (also ``str(error)``).
    """

    retryable: bool = False
    code: str = "depin_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ToolchainError(DepinError):
    code = "toolchain"


class ConfigurationError(DepinError):
    code = "configuration"


class DeploymentNotFoundError(ConfigurationError):
    code = "deployment_not_found"

    def __init__(self, chain_id: int, contract: str) -> None:
        self.chain_id = chain_id
        self.contract = contract
        super().__init__(
            f"no {contract} deployment recorded for chain {chain_id}; run `depin deploy` first"
        )


class SignatureError(DepinError):
    code = "invalid_signature"


class ChainError(DepinError):
    """A transaction or call to the chain failed."""

    code = "chain_error"


class InsufficientFundsError(ChainError):
    """The sending account cannot pay for the transaction's gas."""

    code = "insufficient_funds"

    def __init__(self, address: str, hint: str = "fund it and try again") -> None:
        self.address = address
        super().__init__(f"the account {address} has too little ETH to pay for gas: {hint}")


class ContractRevertError(ChainError):
    """A call reverted with a named custom error."""

    code = "contract_revert"

    def __init__(self, error_name: str, args: dict[str, object] | None = None) -> None:
        self.error_name = error_name
        self.error_args = dict(args or {})
        shown = ", ".join(f"{k}={v}" for k, v in self.error_args.items())
        super().__init__(f"the contract refused: {error_name}({shown})")


class NodeUnavailableError(ChainError):
    """The node kept failing in ways that usually heal (lag, rate limits, 5xx, timeouts, resets,
    broken answers) for longer than the retry budget."""

    code = "node_unavailable"
    retryable = True

    def __init__(
        self, method: str, last: str, tries: int, waited: float, kind: str = "unknown"
    ) -> None:
        self.method = method
        self.last = last
        self.tries = tries
        self.waited = waited
        self.kind = kind
        super().__init__(
            f"{method} failed {tries} times in {waited:.0f}s; the last failure: {last}"
        )


class RetryInterruptedError(DepinError):
    """A retry was waiting when the process was asked to stop."""

    code = "retry_interrupted"

    def __init__(self, method: str) -> None:
        self.method = method
        super().__init__(f"stopped while waiting to retry {method}")


class WrongChainError(ConfigurationError):
    """The node serves another chain than the one configured or recorded: no retry can help."""

    code = "wrong_chain"

    def __init__(self, expected: int, actual: int, where: str) -> None:
        self.expected = expected
        self.actual = actual
        self.where = where
        super().__init__(
            f"the node is on chain {actual}, but {where} is chain {expected}; point the RPC URL "
            "at the right network"
        )


class ContractNotDeployedError(ConfigurationError):
    """No code at a contract's recorded address: the wrong network, or a chain reset since the
    deployment."""

    code = "contract_not_deployed"

    def __init__(self, contract: str, address: str, chain_id: int) -> None:
        self.contract = contract
        self.address = address
        self.chain_id = chain_id
        super().__init__(
            f"no {contract} code at {address} on chain {chain_id}: the chain was reset or the "
            "address is from another network; run `depin deploy` or fix the recorded address"
        )
