"""The in-memory working set one block range is applied to, before one bulk write.

Handlers read and change current-state rows through :class:`Working`; it loads every row the
range's events will touch in one query per table, records the pre-image of each row before its
first change in each unfinalized block (the undo log), and collects append-only rows and
inventory changes. :mod:`indexer.store` then writes it all in the range's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table

from indexer import models

Key = tuple[Any, ...]
Row = dict[str, Any]
EventRow = dict[str, Any]


@dataclass(frozen=True)
class StateTable:
    """A current-state table: its SQLAlchemy table, key columns and every column."""

    name: str
    table: Table
    key: tuple[str, ...]
    columns: tuple[str, ...]


def _spec(t: Table) -> StateTable:
    return StateTable(
        name=t.name,
        table=t,
        key=tuple(c.name for c in t.primary_key.columns),
        columns=tuple(c.name for c in t.columns),
    )


STATE: dict[str, StateTable] = {t.name: _spec(t) for t in models.STATE_TABLES}


@dataclass
class Working:
    """Rows of the current-state tables touched by one range, changed in memory."""

    #: changes in blocks above this number get undo entries (they may still reorg)
    undo_above: int
    rows: dict[str, dict[Key, Row | None]] = field(
        default_factory=lambda: {name: {} for name in STATE}
    )
    dirty: dict[str, set[Key]] = field(default_factory=lambda: {name: set() for name in STATE})
    undo: list[Row] = field(default_factory=list)
    appends: dict[str, list[Row]] = field(default_factory=dict)
    changes: list[Row] = field(default_factory=list)
    _touched: dict[tuple[str, Key], int] = field(default_factory=dict)
    _loader: Callable[[str, str, list[Any]], list[Row]] | None = None

    # ------------------------------------------------------------------ loading

    def load(
        self,
        wanted: dict[str, set[Key]],
        fetch: Callable[[str, list[Key]], list[Row]],
        where: Callable[[str, str, list[Any]], list[Row]],
    ) -> None:
        """Loads the rows with keys ``wanted[table]`` through ``fetch(table, keys)`` (missing
        rows are remembered as None); ``where(table, column, values)`` serves :meth:`where`."""
        for name, keys in wanted.items():
            spec = STATE[name]
            todo = [k for k in keys if k not in self.rows[name]]
            for k in todo:
                self.rows[name][k] = None
            for found in fetch(name, todo):
                self.rows[name][tuple(found[c] for c in spec.key)] = found
        self._loader = where

    def where(self, name: str, column: str, values: Collection[Any]) -> list[Key]:
        """Keys of the rows of ``name`` whose ``column`` is one of ``values`` now (database rows
        overlaid with the rows changed in this range); the rows become readable with :meth:`get`.
        """
        keys: set[Key] = set()
        spec = STATE[name]
        if not values:
            return []
        if self._loader is not None:
            for found in self._loader(name, column, list(values)):
                key = tuple(found[c] for c in spec.key)
                if key not in self.rows[name]:
                    self.rows[name][key] = found
                keys.add(key)
        wanted = set(values)
        for key, current in self.rows[name].items():
            if current is not None and current.get(column) in wanted:
                keys.add(key)
            else:
                keys.discard(key)
        return sorted(keys)

    # ------------------------------------------------------------------ reading and changing

    def get(self, name: str, key: Key) -> Row | None:
        """The row as of the event being applied (None if it does not exist)."""
        if key not in self.rows[name]:
            raise KeyError(f"{name}{key} was not loaded; declare it in the handler's keys")
        return self.rows[name][key]

    def put(self, name: str, key: Key, block: int, row: Row) -> None:
        """Replaces the row (a complete row with every column)."""
        if block > self.undo_above:
            marker = (name, key)
            if self._touched.get(marker) != block:
                current = self.get(name, key)
                self.undo.append(
                    {
                        "block_number": block,
                        "table_name": name,
                        "key": list(key),
                        "image": dict(current) if current is not None else None,
                    }
                )
            self._touched[marker] = block
        self.rows[name][key] = row
        self.dirty[name].add(key)

    def update(self, name: str, key: Key, block: int, /, **fields: Any) -> bool:
        """Changes some columns of an existing row; False (nothing done) if it does not exist."""
        current = self.get(name, key)
        if current is None:
            return False
        self.put(name, key, block, {**current, **fields})
        return True

    def append(self, table: str, row: Row) -> None:
        self.appends.setdefault(table, []).append(row)

    def change(self, event: EventRow, kind: str, subject: str | None, **data: Any) -> None:
        self.changes.append(
            {
                "block_number": event["block_number"],
                "log_index": event["log_index"],
                "kind": kind,
                "subject": subject,
                "data": data,
            }
        )

    def dirty_rows(self) -> Iterable[tuple[StateTable, list[Row]]]:
        for name, keys in self.dirty.items():
            rows = [self.rows[name][k] for k in keys]
            present = [r for r in rows if r is not None]
            if present:
                yield STATE[name], present
