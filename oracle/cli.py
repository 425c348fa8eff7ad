"""``depin oracle``: create the oracle's key store, serve the oracle node."""

from __future__ import annotations

from pathlib import Path

import click

from depin import logs
from depin.cli import DepinGroup
from depin.keys import create_keystore, load_keystore
from oracle.settings import OracleSettings


@click.group(cls=DepinGroup)
def oracle() -> None:
    """Oracle node: verify and co-sign attestations, transmit batches."""


@oracle.command()
@click.option("--name", default=None, help="Node name (its folder under HOME/oracle/).")
@click.option(
    "--dev-index", type=int, default=None, help="Import anvil test account N (local chains)."
)
@click.option("--force", is_flag=True, help="Replace an existing key store.")
def init(name: str | None, dev_index: int | None, force: bool) -> None:
    """Create the node's encrypted key store (password from DEPIN_ORACLE_PASSWORD)."""
    settings = OracleSettings(name=name) if name else OracleSettings()
    path = settings.keystore_path
    if force and path.exists():
        path.unlink()
    key = None
    if dev_index is not None:
        from depin.chain import ANVIL_KEYS

        key = bytes.fromhex(ANVIL_KEYS[dev_index][2:])
    account = create_keystore(path, settings.password.get_secret_value(), private_key=key)
    click.echo(f"oracle {settings.name}: {account.address} (key store {path})")


@oracle.command()
@click.option("--name", default=None, help="Node name (overrides DEPIN_ORACLE_NAME).")
@click.option("--port", type=int, default=None, help="Port (overrides DEPIN_ORACLE_PORT).")
@click.option("--peer", "peers", multiple=True, help="Base URL of another oracle (repeat).")
@click.option("--no-transmit", is_flag=True, help="Verify and co-sign only; send no transactions.")
@logs.option
def serve(
    name: str | None,
    port: int | None,
    peers: tuple[str, ...],
    no_transmit: bool,
    log_format: str | None,
) -> None:
    """Serve the oracle's HTTP API and run its transmitter."""
    import uvicorn

    from oracle.app import create_app
    from oracle.node import OracleNode

    overrides: dict[str, object] = {}
    if name:
        overrides["name"] = name
    if port:
        overrides["port"] = port
    if peers:
        overrides["peers"] = list(peers)
    settings = OracleSettings(**overrides)  # type: ignore[arg-type]
    logs.setup("oracle", log_format, fields={"node": settings.name}, label=settings.name)
    account = load_keystore(Path(settings.keystore_path), settings.password.get_secret_value())
    node = OracleNode(settings, account)
    app = create_app(node, transmit=not no_transmit)
    try:
        uvicorn.run(
            app, host=settings.host, port=settings.port, log_level="warning", log_config=None
        )
    finally:
        node.close()
