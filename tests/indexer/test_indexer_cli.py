"""The ``depin indexer`` commands, and the migrations against the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from indexer_helpers import Scenario

from depin.chain import Anvil
from depin.cli import main
from indexer import models
from indexer.db import make_engine, migrate, migration_heads


def test_migrations_create_exactly_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'schema.sqlite'}")
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    assert diff == []
    engine.dispose()


@pytest.mark.integration
def test_commands(anvil: Anvil, home: Path, tmp_path: Path, scenario: Scenario) -> None:
    p = scenario.register()
    scenario.authorize(p)
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    base = ["indexer", "--database-url", url, "--rpc-url", anvil.rpc_url, "--home", str(home)]
    runner = CliRunner()

    result = runner.invoke(main, [*base, "migrate"])
    assert result.exit_code == 0, result.output
    assert f"inventory schema at {migration_heads()[0]}" in result.output
    result = runner.invoke(main, [*base, "run", "--no-follow", "--no-progress"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, [*base, "status"])
    assert result.exit_code == 0, result.output
    assert "lag:           0 blocks" in result.output
    assert "events:        " in result.output
    backup = tmp_path / "copy.sqlite"
    result = runner.invoke(main, [*base, "backup", str(backup)])
    assert result.exit_code == 0 and backup.exists(), result.output
    result = runner.invoke(main, [*base, "rebuild", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "rebuilt:" in result.output
    restored = ["indexer", "--database-url", f"sqlite:///{tmp_path / 'restored.sqlite'}"]
    result = runner.invoke(main, [*restored, "restore", str(backup)])
    assert result.exit_code == 0, result.output


def test_a_database_that_is_not_migrated_is_refused(anvil: Anvil, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    result = CliRunner().invoke(
        main, ["indexer", "--database-url", url, "--rpc-url", anvil.rpc_url, "status"]
    )
    assert result.exit_code == 1
    assert "depin indexer migrate" in result.output
