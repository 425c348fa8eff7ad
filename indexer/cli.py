"""``depin indexer``: run, rebuild, status, migrate, backup and restore the inventory."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from depin import logs
from depin.cli import DepinGroup
from depin.cli_options import chain_options
from depin.errors import RetryInterruptedError
from indexer.settings import IndexerSettings

console = Console(stderr=True)


def _settings(ctx: click.Context, **extra: Any) -> IndexerSettings:
    given = {**(ctx.obj or {}), **extra}
    overrides: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    return IndexerSettings(**overrides)


@click.group(cls=DepinGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database-url", help="SQLAlchemy URL [DEPIN_INDEXER_DATABASE_URL]")
@chain_options(settings=IndexerSettings)
@click.pass_context
def indexer(ctx: click.Context, database_url: str | None, rpc_url: str, home: Path) -> None:
    """Mirror contract events into the SQL inventory."""
    ctx.obj = {"database_url": database_url, "rpc_url": rpc_url, "home": home}


class _Backfill:
    """A rich progress bar with blocks/s and events/s."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress: Progress | None = None
        self.task: Any = None
        self.started = time.monotonic()
        self.first_block: int | None = None
        self.events = 0

    def __call__(self, block: int, target: int, written: int) -> None:
        self.events += written
        if not self.enabled:
            return
        if self.progress is None:
            self.first_block = block
            self.progress = Progress(
                TextColumn("[bold]backfill"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("block {task.fields[block]:,}/{task.fields[target]:,}"),
                TextColumn("{task.fields[bps]:,.0f} blocks/s"),
                TextColumn("{task.fields[eps]:,.0f} events/s"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self.progress.start()
            self.task = self.progress.add_task(
                "backfill",
                total=max(1, target - block),
                block=block,
                target=target,
                bps=0.0,
                eps=0.0,
            )
        elapsed = max(time.monotonic() - self.started, 1e-6)
        done = block - (self.first_block or block)
        self.progress.update(
            self.task,
            completed=done,
            total=max(1, target - (self.first_block or block)),
            block=block,
            target=target,
            bps=done / elapsed,
            eps=self.events / elapsed,
        )

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


@indexer.command()
@click.option(
    "--follow/--no-follow", default=True, show_default=True, help="keep following the head"
)
@click.option("--finality", help="confirmations (a number) or 'finalized' [DEPIN_INDEXER_FINALITY]")
@click.option("--progress/--no-progress", default=True, show_default=True)
@logs.option
@click.pass_context
def run(
    ctx: click.Context, follow: bool, finality: str | None, progress: bool, log_format: str | None
) -> None:
    """Backfill from the deploy block, then follow the head; /metrics on
    DEPIN_INDEXER_METRICS_PORT (9101; 0: none)."""
    from depin import metrics
    from indexer.db import make_engine, migrate
    from indexer.service import Indexer

    settings = _settings(ctx, finality=finality)
    say: Callable[[str], None] = console.print
    if logs.setup("indexer", log_format) == "json":
        progress = False  # a progress bar is no JSON line
        say = logging.getLogger("indexer").info
    metrics.serve(settings.metrics_port)
    engine = make_engine(settings.url)
    migrate(engine)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service = Indexer(settings, engine=engine, stop=stop)
    try:
        where = engine.url.render_as_string(hide_password=True)
        _run(service, settings, where, follow, progress, say)
    except RetryInterruptedError:
        if not stop.is_set():
            raise
        say("stopped")
    finally:
        engine.dispose()


def _run(
    service: Any,
    settings: IndexerSettings,
    where: str,
    follow: bool,
    progress: bool,
    say: Callable[[str], None] = console.print,
) -> None:
    checkpoint = service.prepare()
    say(f"indexing chain {service.chain_id} from block {checkpoint.indexed_block + 1} into {where}")
    bar = _Backfill(progress)
    started = time.monotonic()
    try:
        written = service.sync(progress=bar)
    finally:
        bar.close()
    elapsed = time.monotonic() - started
    indexed = service.store.checkpoint().indexed_block
    say(
        f"backfilled {written:,} events to block {indexed:,} in {elapsed:.1f}s "
        f"({written / max(elapsed, 1e-6):,.0f} events/s)"
    )
    if follow and not service.stop.is_set():
        say(f"following the head (finality {settings.finality})")
        service.follow()


@indexer.command()
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.pass_context
def rebuild(ctx: click.Context, progress: bool) -> None:
    """Empty the inventory and replay every event from the deploy block."""
    from indexer.db import make_engine, migrate
    from indexer.service import Indexer

    settings = _settings(ctx)
    engine = make_engine(settings.url)
    migrate(engine)
    bar = _Backfill(progress)
    started = time.monotonic()
    try:
        written = Indexer(settings, engine=engine).rebuild(progress=bar)
    finally:
        bar.close()
    elapsed = time.monotonic() - started
    console.print(f"rebuilt: {written:,} events in {elapsed:.1f}s")


@indexer.command()
@click.option(
    "--check", is_flag=True, help="exit 1 when degraded, 2 when halted (for scripts and probes)"
)
@click.pass_context
def status(ctx: click.Context, check: bool) -> None:
    """Health (ok, degraded or halted), chain head, indexed block and lag."""
    from sqlalchemy import func, select

    from indexer import models
    from indexer.db import is_at_head, make_engine
    from indexer.service import Indexer

    settings = _settings(ctx)
    engine = make_engine(settings.url)
    if not is_at_head(engine):
        raise click.ClickException("the inventory is not migrated; run `depin indexer migrate`")
    health = Indexer(settings, engine=engine).health()
    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(models.EVENTS)).scalar_one()
    indexed = health.indexed_block
    if health.head_is_live:
        head = str(health.head_block)
    else:
        head = f"unreachable (last seen {health.head_block if indexed is not None else 'none'})"
    if health.lag is None:
        lag = "n/a"
    else:
        lag = f"{'at least ' if health.lag_at_least else ''}{health.lag} blocks"
    click.echo(f"database:      {engine.url.render_as_string(hide_password=True)}")
    click.echo(f"state:         {health.state}")
    for reason in health.reasons:
        click.echo(f"  - {reason}")
    if health.fix:
        click.echo(f"fix:           {health.fix}")
    click.echo(f"chain head:    {head}")
    click.echo(f"indexed block: {indexed if indexed is not None else 'none'}")
    click.echo(f"lag:           {lag}")
    if health.progress_at is not None:
        ago = max(0.0, time.time() - health.progress_at)
        click.echo(f"last progress: block {health.progress_block}, {ago:.0f}s ago")
    click.echo(f"events:        {events}")
    engine.dispose()
    if check and health.state != "ok":
        ctx.exit(2 if health.state == "halted" else 1)


@indexer.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Upgrade the inventory schema to the latest migration."""
    from indexer.db import current_revision, make_engine
    from indexer.db import migrate as run_migrations

    engine = make_engine(_settings(ctx).url)
    run_migrations(engine)
    click.echo(f"inventory schema at {','.join(current_revision(engine))}")


@indexer.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.pass_context
def backup(ctx: click.Context, path: Path) -> None:
    """Copy the inventory to PATH (safe while the indexer runs)."""
    from indexer.backup import backup as run_backup

    run_backup(_settings(ctx).url, path)
    click.echo(f"backed up to {path}")


@indexer.command()
@click.argument("path", type=click.Path(path_type=Path, exists=True))
@click.pass_context
def restore(ctx: click.Context, path: Path) -> None:
    """Replace the inventory with the backup at PATH (stop the indexer first)."""
    from indexer.backup import restore as run_restore

    run_restore(_settings(ctx).url, path)
    click.echo(f"restored from {path}; `depin indexer run` resumes from its checkpoint")
