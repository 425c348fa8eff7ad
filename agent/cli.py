"""``depin agent``: discover, benchmark and watch this host's GPUs; create the agent key."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.benchmark import Engine, run_benchmarks
from agent.discovery import (
    AmdSmiBackend,
    Backend,
    Inventory,
    NvmlBackend,
    XpuSmiBackend,
    default_backends,
    discover,
)
from agent.discovery.recording import amdsmi_replay, command_replay, nvml_replay
from agent.errors import AgentError
from agent.health import HealthProbe, NvmlHealthProbe, SimulatedHealth, host_probe
from agent.keystore import authorization_request, create_keystore, read_password
from agent.settings import AgentSettings
from agent.watch import ChangeEvent, Watcher
from depin import logs
from depin.cli_options import chain_options

GIB = 1 << 30


def _backends(replays: tuple[str, ...]) -> list[Backend] | None:
    """Backends answering from recordings given as ``nvml=FILE`` / ``amdsmi=`` / ``xpu-smi=``."""
    if not replays:
        return None
    chosen: dict[str, Backend] = {}
    for item in replays:
        name, sep, file = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected BACKEND=FILE, got {item!r}", param_hint="--replay")
        if name not in ("nvml", "amdsmi", "xpu-smi"):
            raise click.BadParameter(
                f"unknown backend {name!r}; use nvml, amdsmi or xpu-smi", param_hint="--replay"
            )
        try:
            data = json.loads(Path(file).read_text())
        except (OSError, ValueError) as exc:
            raise AgentError(f"cannot read recording {file}: {exc}") from exc
        if name == "nvml":
            chosen[name] = NvmlBackend(nvml_replay(data))
        elif name == "amdsmi":
            chosen[name] = AmdSmiBackend(amdsmi_replay(data))
        else:
            chosen[name] = XpuSmiBackend(command_replay(data))
    return [chosen.get(b.name, b) for b in default_backends()]


def _health_probe(replay: Path | None, simulated: bool) -> HealthProbe | None:
    if replay is not None:
        return NvmlHealthProbe(nvml_replay(json.loads(replay.read_text())))
    return SimulatedHealth() if simulated else host_probe()


def _collect(replays: tuple[str, ...], sysfs_root: Path | None) -> Inventory:
    return discover(_backends(replays), sysfs_root=sysfs_root)


F = TypeVar("F", bound=Callable[..., Any])

_replay_option = click.option(
    "--replay",
    "replays",
    multiple=True,
    metavar="BACKEND=FILE",
    help="Answer a backend from a recording instead of its vendor library.",
)
_sysfs_option = click.option(
    "--sysfs-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/"),
    show_default=True,
    help="Filesystem root holding sys/bus/pci (e.g. the host's root mounted in a container).",
)


def _key_options(keystore_help: str, password_help: str) -> Callable[[F], F]:
    """``--keystore`` and ``--password-file``, each with its help."""

    def decorate(func: F) -> F:
        for name, text in (("--password-file", password_help), ("--keystore", keystore_help)):
            func = click.option(
                name, type=click.Path(dir_okay=False, path_type=Path), default=None, help=text
            )(func)
        return func

    return decorate


@click.group()
def agent() -> None:
    """GPU discovery, benchmarks and the agent's key."""
    # CUDA numbers GPUs fastest first by default, NVML by PCI bus: make CUDA's index i the
    # GPU NVML calls i, so each GPU is benchmarked and proven on its own device.
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")


def _gib(value: int | None) -> str:
    return f"{value / GIB:.1f}" if value else "-"


def _table(inventory: Inventory) -> Table:
    table = Table(title=f"GPUs on {inventory.hostname}")
    for column in ("#", "vendor", "model", "name", "GiB", "bus id", "uuid", "driver", "MIG"):
        table.add_column(column)
    for i, gpu in enumerate(inventory.gpus):
        mig = "-" if gpu.mig.enabled is None else ("on" if gpu.mig.enabled else "off")
        if gpu.mig.instances:
            mig += f" ({len(gpu.mig.instances)})"
        table.add_row(
            str(gpu.index if gpu.index is not None else i),
            gpu.vendor,
            gpu.model_id,
            gpu.name or (gpu.note or "-"),
            _gib(gpu.memory_bytes),
            gpu.pci.bus_id or "-",
            gpu.uuid or "-",
            gpu.driver_version or "-",
            mig,
        )
    return table


@agent.command("discover")
@click.option("--json", "as_json", is_flag=True, help="Print the inventory as JSON.")
@_replay_option
@_sysfs_option
def discover_command(as_json: bool, replays: tuple[str, ...], sysfs_root: Path) -> None:
    """List this host's GPUs, and why each backend found what it found."""
    inventory = _collect(replays, sysfs_root)
    if as_json:
        click.echo(inventory.model_dump_json(indent=2))
        return
    console = Console()
    if inventory.gpus:
        console.print(_table(inventory))
    else:
        console.print("[bold]No GPU found.[/bold]")
    for gpu in inventory.gpus:
        if gpu.note:
            console.print(f"  {gpu.pci.bus_id or gpu.index}: {gpu.note}")
    for report in inventory.backends:
        state = f"{report.devices} device(s)" if report.available else report.reason
        console.print(f"  backend {report.backend}: {state}")


@agent.command("capabilities")
@click.option("--simulated", is_flag=True, help="Describe replayed GPUs as sim:<model>.")
@_replay_option
@_sysfs_option
def capabilities_command(simulated: bool, replays: tuple[str, ...], sysfs_root: Path) -> None:
    """Print the host's capability document and the hash its attestations carry."""
    from agent.capabilities import HostProbe, build_document
    from agent.daemon import no_gpu_message, usable_gpus
    from depin.capabilities import document_hash
    from depin.crypto import to_hex

    inventory = _collect(replays, sysfs_root)
    claims, skipped = usable_gpus(inventory, simulated)
    if not claims:
        raise AgentError(no_gpu_message(inventory, skipped))
    document = build_document(claims, HostProbe().host())
    body = {"document_hash": to_hex(document_hash(document)), "document": document.as_json()}
    click.echo(json.dumps(body, indent=2))


@agent.command("benchmark")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--engine",
    type=click.Choice(["auto", "numpy", "torch", "cupy"]),
    default="auto",
    show_default=True,
    help="auto uses torch or cupy on a GPU when present, else NumPy on the CPU.",
)
def benchmark_command(as_json: bool, engine: Engine) -> None:
    """Measure matmul throughput (fp32, fp16/bf16, int8) and memory bandwidth."""
    err = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=as_json,
    ) as bar:
        task = bar.add_task("benchmark", total=None)

        def step(name: str, done: int, total: int) -> None:
            bar.update(task, description=name, completed=done, total=total)

        report = run_benchmarks(engine, progress=step)
    if as_json:
        click.echo(report.model_dump_json(indent=2))
        return
    table = Table(title=f"{report.engine} on {report.device} ({report.elapsed_s:.1f} s)")
    for column in ("benchmark", "size", "iterations", "median ms", "spread", "result"):
        table.add_column(column)
    for r in report.results:
        if r.skipped:
            table.add_row(r.name, str(r.size), "-", "-", "-", f"skipped: {r.skipped}")
            continue
        table.add_row(
            r.name,
            str(r.size),
            str(r.iterations),
            f"{r.median_s * 1e3:.2f}",
            f"{r.spread:.0%}",
            f"{r.value:.4g} {r.unit}",
        )
    Console().print(table)


def _event_json(event: ChangeEvent) -> dict[str, Any]:
    data = event.model_dump(mode="json", exclude={"old", "new"})
    return data


@agent.command("watch")
@click.option("--interval", type=float, default=None, help="Seconds between inventories.")
@click.option("--count", type=int, default=None, help="Stop after this many inventories.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event and line.")
@_replay_option
@_sysfs_option
def watch_command(
    interval: float | None,
    count: int | None,
    as_json: bool,
    replays: tuple[str, ...],
    sysfs_root: Path,
) -> None:
    """Print GPU changes (added, removed, replaced, memory, MIG, driver, XID) as they happen."""
    settings = AgentSettings()
    watcher = Watcher(
        lambda: _collect(replays, sysfs_root),
        interval_s=interval if interval is not None else settings.watch_interval_s,
    )
    try:
        for event in watcher.events(max_polls=count):
            if as_json:
                click.echo(json.dumps(_event_json(event)))
            else:
                click.echo(f"{event.kind:15} {event.slot:14} {event.detail}")
    except KeyboardInterrupt:  # pragma: no cover - interactive
        watcher.stop.set()


@agent.command("init")
@_key_options(
    "Where to write the keystore (default: $DEPIN_AGENT_KEYSTORE or ~/.depin).",
    "Read the password from this file (mode 0600) instead of DEPIN_AGENT_PASSWORD or a prompt.",
)
@click.option("--force", is_flag=True, help="Replace an existing keystore.")
@click.option("--ttl-days", type=float, default=None, help="Lifetime of the authorization.")
@click.option(
    "--request-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the authorization request JSON to this file.",
)
def init_command(
    keystore: Path | None,
    password_file: Path | None,
    force: bool,
    ttl_days: float | None,
    request_out: Path | None,
) -> None:
    """Create the agent's encrypted key and print its authorization request.

    Give the request to the provider: `depin provider authorize-agent --request FILE`.
    """
    settings = AgentSettings()
    path = keystore or settings.keystore
    password = read_password(password_file)
    if password is None:
        password = click.prompt(
            "Keystore password", hide_input=True, confirmation_prompt=True, err=True
        )
    account = create_keystore(path, password, force=force)
    days = ttl_days if ttl_days is not None else settings.authorization_ttl_days
    request = authorization_request(account.address, ttl_s=int(days * 86400))
    text = json.dumps(request)
    if request_out is not None:
        request_out.write_text(text + "\n")
    click.echo(f"agent address: {account.address}", err=True)
    click.echo(f"keystore: {path} (mode 0600)", err=True)
    click.echo(text)


@agent.command("run")
@_key_options(
    "The agent's keystore (default: $DEPIN_AGENT_KEYSTORE or ~/.depin).",
    "Read the keystore password from this file (mode 0600) instead of DEPIN_AGENT_PASSWORD.",
)
@click.option("--provider", required=True, help="Address of the provider that authorized this key.")
@click.option(
    "--oracle",
    "oracles",
    multiple=True,
    required=True,
    metavar="URL",
    help="Base URL of an oracle (repeat; tried in this order).",
)
@chain_options(settings=AgentSettings)
@_replay_option
@click.option(
    "--simulated",
    is_flag=True,
    help="The replayed GPUs are not on this host: attest them as sim:<model> (dev chains only) "
    "and prove on the CPU.",
)
@click.option(
    "--health-replay",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Read each GPU's availability and health from this NVML recording instead of the host "
    "(tests and demos). Without it: NVML on a real host; simulated GPUs read as well.",
)
@click.option(
    "--heartbeat-interval",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Seconds between heartbeats (default: a third of the chain's epoch).",
)
@click.option(
    "--validity",
    type=int,
    default=86400,
    show_default=True,
    metavar="SECONDS",
    help="Lifetime of each attestation; the agent re-attests before it ends.",
)
@click.option(
    "--once",
    is_flag=True,
    help="Attest once, wait until the chain shows every GPU, exit 0 (non-zero on a refusal).",
)
@logs.option
def run_command(
    keystore: Path | None,
    password_file: Path | None,
    provider: str,
    oracles: tuple[str, ...],
    rpc_url: str,
    home: Path,
    replays: tuple[str, ...],
    simulated: bool,
    health_replay: Path | None,
    heartbeat_interval: float | None,
    validity: int,
    once: bool,
    log_format: str | None,
) -> None:
    """Run the agent: prove, attest and heartbeat this host's GPUs through the oracles;
    /metrics on DEPIN_AGENT_METRICS_PORT (9102; 0: none)."""
    import signal

    from eth_utils import is_address, to_checksum_address

    from agent.daemon import AgentDaemon, DaemonConfig
    from agent.keystore import load_agent_key
    from depin import deployments, metrics
    from depin.attestation_client import AttestationClient
    from depin.chain import connect

    logs.setup("agent", log_format)
    if simulated and not replays:
        raise click.UsageError("--simulated replays GPUs: give --replay BACKEND=FILE")
    if not is_address(provider):
        raise click.BadParameter(f"{provider!r} is not an address", param_hint="--provider")
    settings = AgentSettings()
    path = keystore or settings.keystore
    password = read_password(password_file)
    if password is None:
        raise AgentError(
            "the agent keystore password is needed: set DEPIN_AGENT_PASSWORD or --password-file"
        )
    account = load_agent_key(path, password)
    w3 = connect(rpc_url)
    chain_id = w3.eth.chain_id
    address = deployments.load(home / "deployments", chain_id, "AttestationOracle").address
    client = AttestationClient(w3, address)
    backends = _backends(replays)
    sysfs_root = None if simulated else Path("/")

    def collect() -> Inventory:
        return discover(backends, sysfs_root=sysfs_root)

    config = DaemonConfig(
        provider=to_checksum_address(provider),
        simulated=simulated,
        heartbeat_interval_s=heartbeat_interval,
        validity_s=validity,
        watch_interval_s=settings.watch_interval_s,
    )
    daemon = AgentDaemon(
        config,
        account,
        client,
        list(oracles),
        collect,
        health=_health_probe(health_replay, simulated),
    )
    click.echo(
        f"agent {account.address} for provider {config.provider} on chain {chain_id}, "
        f"oracles {', '.join(oracles)}",
        err=True,
    )
    if once:
        result = daemon.attest_once()
        click.echo(f"{len(result.attested)} GPU(s) attested and verified on-chain", err=True)
        return
    metrics.serve(settings.metrics_port)
    signal.signal(signal.SIGTERM, lambda *_: daemon.close())
    try:
        daemon.run()
    except KeyboardInterrupt:
        daemon.close()
