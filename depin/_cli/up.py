"""``depin up``: the whole system on one machine with embedded defaults."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn

from eth_utils import to_checksum_address

from depin import deployments
from depin._cli.common import dev_account
from depin.chain import Anvil, connect
from depin.deploy import deploy_registry
from depin.errors import DeploymentNotFoundError
from depin.settings import CommonSettings


@click.command()
@click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    default=CommonSettings().home,
    show_default=True,
    envvar="DEPIN_HOME",
    help="Data folder; a second `depin up` reuses it (chain state included).",
)
@click.option("--port", default=8545, show_default=True, help="anvil's port on 127.0.0.1.")
@click.option("--block-time", type=float, default=1.0, show_default=True, help="Seconds per block.")
def up(home: Path, port: int, block_time: float) -> None:
    """Start anvil, deploy the contracts (once), and run until Ctrl-C."""
    console = Console()
    home.mkdir(parents=True, exist_ok=True)
    node = Anvil(port=port, block_time=block_time, state_path=home / "chain" / "anvil-state.json")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console) as progress:
        task = progress.add_task("starting anvil", total=2)
        node.start()
        progress.update(task, advance=1, description="deploying contracts")
        w3 = connect(node.rpc_url)
        folder = home / "deployments"
        try:
            registry = deployments.load(folder, w3.eth.chain_id, "ProviderRegistry")
            if not w3.eth.get_code(to_checksum_address(registry.address)):
                raise DeploymentNotFoundError(w3.eth.chain_id, "ProviderRegistry")
        except DeploymentNotFoundError:
            registry = deploy_registry(w3, dev_account(0), folder)
        progress.update(task, advance=1, description="ready")
    console.print(f"[bold green]ready[/]  chain {node.rpc_url} (id {w3.eth.chain_id})")
    console.print(f"  ProviderRegistry {registry.address}")
    console.print(f"  data folder {home}")
    console.print("  Ctrl-C stops everything")
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop and node.process is not None and node.process.poll() is None:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping")
        node.stop()
