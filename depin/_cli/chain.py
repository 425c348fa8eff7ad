"""``depin chain``: a local anvil node in the foreground."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import click

from depin.chain import Anvil


@click.command()
@click.option("--port", default=8545, show_default=True, help="Port on 127.0.0.1.")
@click.option("--chain-id", default=31337, show_default=True)
@click.option(
    "--block-time", type=float, default=None, help="Seconds per block (default: automine)."
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Load and save the chain state in this file, so a restart keeps it.",
)
def chain(port: int, chain_id: int, block_time: float | None, state_path: Path | None) -> None:
    """Start anvil (from node_modules), print its RPC URL, run until Ctrl-C."""
    node = Anvil(port=port, chain_id=chain_id, block_time=block_time, state_path=state_path)
    node.start()
    click.echo(f"anvil {node.rpc_url} chain id {chain_id} (Ctrl-C stops it)")
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
        node.stop()
