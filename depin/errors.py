"""The project's exception hierarchy.

Every error a user can meet derives from :class:`DepinError`; errors a CLI user may see also
subclass :class:`click.ClickException` so they print a sentence instead of a traceback.
"""

from __future__ import annotations

import click


class DepinError(click.ClickException):
    """Base of every depin error. ``retryable`` marks errors that are safe to retry."""

    retryable: bool = False
    code: str = "depin_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)


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
