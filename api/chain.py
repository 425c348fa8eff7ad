"""The API's handle on the chain: a web3 connection, the registry client and the relayer."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from api.settings import ApiSettings
from depin import deployments
from depin.chain import ANVIL_KEYS, connect
from depin.errors import ConfigurationError
from depin.keys import load_keystore, read_password
from depin.registry import CONTRACT_NAME, RegistryClient
from depin.settings import DEV_CHAIN_IDS


@dataclass
class ChainContext:
    """What the onboarding routes share. ``send_lock`` serializes the relayer's nonces (the
    application replaces it with a lock every worker process honours)."""

    w3: Web3
    registry: RegistryClient
    relayer: LocalAccount
    chain_id: int
    send_lock: AbstractContextManager[Any] = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> ChainContext:
        w3 = connect(settings.rpc_url)
        chain_id = int(w3.eth.chain_id)
        address = settings.registry_address or (
            deployments.load(settings.deployments_dir, chain_id, CONTRACT_NAME).address
        )
        return cls(w3, RegistryClient(w3, address), load_relayer(settings, chain_id), chain_id)


def load_relayer(settings: ApiSettings, chain_id: int) -> LocalAccount:
    """The relayer from its key store; on a dev chain without one, anvil's second test key."""
    if settings.relayer_keystore is not None:
        if settings.relayer_password is not None:
            password = settings.relayer_password.get_secret_value()
        else:
            password = read_password(
                env_var="DEPIN_API_RELAYER_PASSWORD",
                password_file=settings.relayer_password_file,
                prompt=None,
            )
        return load_keystore(Path(settings.relayer_keystore), password)
    if chain_id in DEV_CHAIN_IDS:
        account: LocalAccount = Account.from_key(ANVIL_KEYS[1])
        return account
    raise ConfigurationError(
        f"chain {chain_id} is not a dev chain: set DEPIN_API_RELAYER_KEYSTORE (and "
        "DEPIN_API_RELAYER_PASSWORD or DEPIN_API_RELAYER_PASSWORD_FILE)"
    )
