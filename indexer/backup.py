"""Backups of the inventory while the indexer runs, and restores.

SQLite: the online backup API copies a consistent snapshot (the writer keeps going in WAL mode);
the checkpoint travels with the rows it describes, so a restored copy resumes indexing from its
own checkpoint. PostgreSQL: ``pg_dump --format=custom`` (one consistent snapshot) and
``pg_restore --clean --if-exists``; both tools must be on PATH.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from indexer.errors import BackupError


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq_url(url: str) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH; install the PostgreSQL client tools")
    return found


def backup(url: str, target: Path) -> Path:
    """Writes a consistent copy of the inventory at ``url`` to ``target``."""
    backend = make_url(url).get_backend_name()
    target.parent.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        source_path = _sqlite_path(url)
        if not source_path.exists():
            raise BackupError(f"no database at {source_path}")
        tmp = target.with_name(target.name + ".partial")
        tmp.unlink(missing_ok=True)
        source = sqlite3.connect(source_path, timeout=30)
        dest = sqlite3.connect(tmp)
        try:
            source.backup(dest)  # all pages in one step: one consistent snapshot
            dest.execute("PRAGMA journal_mode=DELETE")
        finally:
            dest.close()
            source.close()
        tmp.replace(target)
        return target
    if backend == "postgresql":
        _run(
            [
                _tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--file",
                str(target),
                _libpq_url(url),
            ]
        )
        return target
    raise BackupError(f"backups of {backend} databases are not supported")


def restore(url: str, source: Path) -> None:
    """Replaces the inventory at ``url`` with the backup ``source`` (stop the indexer first)."""
    if not source.exists():
        raise BackupError(f"no backup at {source}")
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        target_path = _sqlite_path(url)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(source)
        dest = sqlite3.connect(target_path, timeout=30)
        try:
            src.backup(dest)
        finally:
            dest.close()
            src.close()
        return
    if backend == "postgresql":
        _run(
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--dbname",
                _libpq_url(url),
                str(source),
            ]
        )
        return
    raise BackupError(f"restores of {backend} databases are not supported")


def _run(args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {result.stderr.strip()}")
