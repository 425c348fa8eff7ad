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


class ContractRevertError(ChainError):
    """A call reverted with a named custom error."""

    code = "contract_revert"

    def __init__(self, error_name: str, args: dict[str, object] | None = None) -> None:
        self.error_name = error_name
        self.error_args = dict(args or {})
        shown = ", ".join(f"{k}={v}" for k, v in self.error_args.items())
        super().__init__(f"the contract refused: {error_name}({shown})")
