"""``depin provider``: what a GPU provider does from its wallet.

Three ways to act, for every change:

* ``--keystore K``: send the transaction from the provider's own key store account;
* ``--keystore K --gasless``: sign the EIP-712 message with it and have a relayer send it;
* ``--address A --typed-data-out FILE``: write the ``eth_signTypedData_v4`` JSON for an external
  wallet (MetaMask, a hardware wallet, a Safe), then ``depin provider submit FILE --signature S``
  relays what the wallet signed.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address
from rich.console import Console
from rich.table import Table

from depin._cli.common import (
    chain_options,
    dev_account,
    load_signer,
    registry_client,
    signer_options,
)
from depin.crypto import recover
from depin.eip712 import Message, parse_typed_data
from depin.errors import InsufficientFundsError, SignatureError
from depin.keys import keystore_address
from depin.messages import REGISTRY_MESSAGES
from depin.registry import Profile, RegistryClient
from depin.settings import DEV_CHAIN_IDS

_DURATION = re.compile(r"^(\d+)([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int:
    match = _DURATION.match(text.strip())
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration like 3600, 90m, 12h or 30d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _address_param(_: click.Context, __: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    if not is_address(value):
        raise click.BadParameter(f"{value!r} is not an Ethereum address")
    return to_checksum_address(value)


def action_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--relayer-keystore",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        help="Key store of the account that pays for a --gasless or submitted transaction "
        "(on a local chain an anvil test account by default).",
    )(func)
    func = click.option(
        "--signature-ttl",
        default="1h",
        show_default=True,
        help="How long a signature stays valid (its deadline).",
    )(func)
    func = click.option(
        "--typed-data-out",
        type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
        help="Write the EIP-712 JSON for an external wallet to this file ('-' for stdout) "
        "instead of sending anything.",
    )(func)
    func = click.option(
        "--address",
        callback=_address_param,
        help="Provider address (with --typed-data-out, when the key is in an external wallet).",
    )(func)
    func = click.option(
        "--gasless", is_flag=True, help="Sign with the key store and let a relayer pay the gas."
    )(func)
    func = signer_options(func)
    return chain_options(func)


def _relayer(
    client: RegistryClient, keystore: Path | None, password_file: Path | None
) -> LocalAccount:
    if keystore is not None:
        return load_signer(keystore, None, what="relayer")
    if client.w3.eth.chain_id in DEV_CHAIN_IDS:
        return dev_account(1)
    raise click.UsageError("--relayer-keystore is required on this chain")


def _act(
    opts: dict[str, Any],
    build: Callable[[RegistryClient, str, int], Message],
    direct: Callable[[RegistryClient, LocalAccount], Any],
) -> None:
    client = registry_client(opts["rpc_url"], opts["home"])
    ttl = parse_duration(opts["signature_ttl"])
    if opts["typed_data_out"] is not None:
        provider = opts["address"] or (
            keystore_address(opts["keystore"]) if opts["keystore"] else None
        )
        if provider is None:
            raise click.UsageError("--typed-data-out needs --address (or --keystore)")
        typed = build(client, provider, ttl).typed_data(client.domain)
        text = json.dumps(typed, indent=2)
        if str(opts["typed_data_out"]) == "-":
            click.echo(text)
        else:
            opts["typed_data_out"].write_text(text + "\n")
            click.echo(
                f"typed data written to {opts['typed_data_out']}; sign it with "
                "eth_signTypedData_v4, then run: depin provider submit "
                f"{opts['typed_data_out']} --signature 0x...",
                err=True,
            )
        return
    account = load_signer(opts["keystore"], opts["password_file"], what="provider")
    if opts["gasless"]:
        message = build(client, account.address, ttl)
        signature = message.sign(account, client.domain)
        relayer = _relayer(client, opts["relayer_keystore"], None)
        receipt = client.submit_signed(relayer, message, signature)
    else:
        try:
            receipt = direct(client, account)
        except InsufficientFundsError as exc:
            raise InsufficientFundsError(
                exc.address,
                "fund it, or add --gasless to sign the message and have a relayer send it",
            ) from exc
    click.echo(
        f"done in block {receipt['blockNumber']}, tx 0x{bytes(receipt['transactionHash']).hex()}"
    )


@click.group()
def provider() -> None:
    """Register, update and manage agents as a GPU provider."""


def _profile_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--metadata-hash", default="0x" + "00" * 32, help="bytes32 hash of the metadata document."
    )(func)
    func = click.option("--metadata-uri", default="", help="Where the provider's metadata lives.")(
        func
    )
    func = click.option("--endpoint", default="", help="Public endpoint of the provider.")(func)
    func = click.option("--region", default="", help="Region code, e.g. eu-west.")(func)
    func = click.option("--name", required=True, help="Display name (1-64 bytes).")(func)
    return func


def _profile(opts: dict[str, Any]) -> Profile:
    raw = opts["metadata_hash"]
    try:
        digest = bytes.fromhex(raw[2:] if raw.startswith("0x") else raw)
    except ValueError:
        raise click.BadParameter("--metadata-hash must be 32 bytes of hex") from None
    if len(digest) != 32:
        raise click.BadParameter("--metadata-hash must be 32 bytes of hex")
    return Profile(opts["name"], opts["region"], opts["endpoint"], opts["metadata_uri"], digest)


def _profile_command(
    name: str,
    help: str,
    build: Callable[..., Message],
    direct: Callable[[RegistryClient, LocalAccount, Profile], Any],
) -> None:
    """Adds the command ``name`` that sends a profile: ``build`` is the registry's typed-data
    method (provider, profile, ``ttl=``), ``direct`` its transaction."""

    @provider.command(name, help=help)
    @action_options
    @_profile_options
    def command(**opts: Any) -> None:
        profile = _profile(opts)
        _act(
            opts,
            lambda c, p, ttl: build(c, p, profile, ttl=ttl),
            lambda c, a: direct(c, a, profile),
        )


_profile_command(
    "register", "Register as a provider.", RegistryClient.registration, RegistryClient.register
)
_profile_command(
    "update",
    "Replace the provider's profile.",
    RegistryClient.profile_update,
    RegistryClient.update_profile,
)


def _agent_request(request: Path | None, agent: str | None) -> tuple[str, int | None]:
    if request is None:
        if agent is None:
            raise click.UsageError(
                "give the agent address or --request FILE from `depin agent init`"
            )
        return agent, None
    try:
        data = json.loads(request.read_text())
        return to_checksum_address(data["agent"]), (
            int(data["expiresAt"]) if data.get("expiresAt") else None
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise click.BadParameter(f"{request} is not an agent authorization request: {exc}") from exc


@provider.command("authorize-agent")
@action_options
@click.argument("agent", required=False, callback=_address_param)
@click.option(
    "--request",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The JSON that `depin agent init` printed (agent address and expiry).",
)
@click.option("--expires-in", default="30d", show_default=True, help="Authorization lifetime.")
def authorize_agent(agent: str | None, request: Path | None, expires_in: str, **opts: Any) -> None:
    """Authorize AGENT (an agent's address) to sign attestations for this provider."""
    address, requested_expiry = _agent_request(request, agent)
    expires_at = requested_expiry or int(time.time()) + parse_duration(expires_in)
    _act(
        opts,
        lambda c, p, ttl: c.agent_authorization(p, address, expires_at, ttl=ttl),
        lambda c, a: c.authorize_agent(a, address, expires_at),
    )


@provider.command("revoke-agent")
@action_options
@click.argument("agent", callback=_address_param)
def revoke_agent(agent: str, **opts: Any) -> None:
    """Revoke AGENT at once."""
    _act(
        opts,
        lambda c, p, ttl: c.agent_revocation(p, agent, ttl=ttl),
        lambda c, a: c.revoke_agent(a, agent),
    )


@provider.command()
@action_options
def deregister(**opts: Any) -> None:
    """Leave the registry for good (all agents stop being authorized)."""
    _act(opts, lambda c, p, ttl: c.deregistration(p, ttl=ttl), lambda c, a: c.deregister(a))


@provider.command()
@chain_options
@click.argument("typed_data", type=click.File("r"))
@click.option("--signature", required=True, help="0x-prefixed signature from the wallet.")
@click.option(
    "--relayer-keystore",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Key store of the account that pays (an anvil test account on a local chain).",
)
def submit(
    rpc_url: str, home: Path, typed_data: Any, signature: str, relayer_keystore: Path | None
) -> None:
    """Relay TYPED_DATA (a file, '-' for stdin) signed by an external wallet."""
    client = registry_client(rpc_url, home)
    try:
        data = json.load(typed_data)
    except ValueError as exc:
        raise SignatureError(f"typed data is not JSON: {exc}") from exc
    domain, message = parse_typed_data(data, REGISTRY_MESSAGES)
    if domain != client.domain:
        raise SignatureError(
            f"the typed data is for {domain.verifying_contract} on chain {domain.chain_id}, "
            f"not this registry ({client.address} on chain {client.domain.chain_id})"
        )
    try:
        sig = bytes.fromhex(signature[2:] if signature.startswith("0x") else signature)
    except ValueError:
        raise SignatureError("the signature is not hex") from None
    signer = str(getattr(message, "provider"))  # noqa: B009 - every registry message has one
    if not client.w3.eth.get_code(to_checksum_address(signer)):
        recovered = recover(message.digest(domain), sig)
        if recovered != signer:
            raise SignatureError(f"the signature is by {recovered}, not the provider {signer}")
    relayer = _relayer(client, relayer_keystore, None)
    receipt = client.submit_signed(relayer, message, sig)
    click.echo(
        f"{message.PRIMARY_TYPE} relayed in block {receipt['blockNumber']}, "
        f"tx 0x{bytes(receipt['transactionHash']).hex()}"
    )


def _attested_gpus(client: RegistryClient, home: Path, provider: str) -> list[dict[str, Any]]:
    """The provider's attested GPUs, if an AttestationOracle is deployed on this chain."""
    from depin import deployments
    from depin.attestation_client import AttestationClient
    from depin.errors import DeploymentNotFoundError

    try:
        oracle = deployments.load(home / "deployments", client.w3.eth.chain_id, "AttestationOracle")
    except DeploymentNotFoundError:
        return []
    return AttestationClient(client.w3, oracle.address).provider_gpus(provider)


@provider.command()
@chain_options
@click.argument("address", callback=_address_param)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(rpc_url: str, home: Path, address: str, as_json: bool) -> None:
    """Show ADDRESS's record, profile, agents and attested GPUs, read from the chain."""
    client = registry_client(rpc_url, home)
    gpus = _attested_gpus(client, home, address)
    record = client.record(address)
    profile = client.profile(address) or {}
    agents = client.agents(address)
    now = int(time.time())
    result: dict[str, Any] = {
        "provider": address,
        "status": record.status.name.lower(),
        "registeredAt": record.registered_at,
        "deregisteredAt": record.deregistered_at,
        "profile": {
            k: ("0x" + v.hex() if isinstance(v, bytes) else v)
            for k, v in profile.items()
            if k != "provider"
        },
        "agents": [
            {
                "agent": agent,
                "expiresAt": expiry,
                "authorized": client.is_authorized_agent(address, agent),
            }
            for agent, expiry in agents.items()
        ],
        "gpus": gpus,
    }
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    console = Console(file=sys.stdout)
    console.print(f"[bold]{address}[/] {result['status']}")
    for key, value in result["profile"].items():
        console.print(f"  {key}: {value}")
    table = Table("agent", "expires", "authorized now")
    for row in result["agents"]:
        left = row["expiresAt"] - now
        table.add_row(
            row["agent"],
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(row["expiresAt"]))
            + (f" (in {left // 86400}d)" if left > 0 else " (expired)"),
            "yes" if row["authorized"] else "no",
        )
    console.print(table)
    gpu_table = Table("index", "GPU key", "model", "memory", "proven int8", "expires", "verified")
    for gpu in gpus:
        gpu_table.add_row(
            str(gpu["index"]),
            gpu["gpuKey"][:18] + "…",
            gpu["model"],
            f"{gpu['memoryBytes'] / 2**30:.0f} GiB",
            f"{gpu['proven_int8_gops']:,} GOPS",
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(gpu["expiresAt"])),
            "yes" if gpu["verified"] else "no",
        )
    console.print(gpu_table if gpus else "no attested GPUs")
