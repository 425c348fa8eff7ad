"""alert watches: one row per (subscription, kind, subject), re-armed in place

Revision 0005 kept one ``alert_watches`` row per alert (keyed by the subscription and the alert's
key), deleted when it fired or was made moot and inserted anew for the next one: every GPU
re-attested cost a delete and an insert in the table and each of its four indexes. A row is now
the watch of one subscription on one subject (a GPU, an agent key) for one kind of alert:

- ``subscription_id``, ``kind``, ``subject``: the key (``alert_watches_one``), which the
  evaluator's upserts and a subscription's deletion both find rows by (the evaluator knows which
  subscriptions a change concerns, so no index by subject is kept);
- ``value``: the expiry (``attestation_expiring``, ``agent_expiring``) or the first epoch the GPU
  was missed (``gpu_offline``); the alert's key is ``kind:subject:value``, as before;
- ``due_epoch`` / ``due_at``: when it fires, or NULL while nothing is pending (the row stays, to
  be re-armed in place by the next change about its subject), each indexed only where set.

The provider a watch's payload names is its subscription's, so the row no longer copies it.
Existing watches are carried over (where a subscription had several for one subject and kind,
the earliest offline epoch and the latest expiry, the ones 0005's evaluator would still fire).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from api.migrations._ops import create_table

revision: str = "0007"
down_revision: str | None = "0006"

_BATCH = 5000


def _rows(bind: Any, sql: str) -> Iterator[Any]:
    yield from bind.execute(sa.text(sql)).fetchall()


def _insert(bind: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), _BATCH):
        bind.execute(table.insert(), rows[start : start + _BATCH])


def _watches(name: str, *columns: str) -> Any:
    return sa.table(name, *(sa.column(c) for c in columns))


def upgrade() -> None:
    bind = op.get_bind()
    op.rename_table("alert_watches", "alert_watches_0005")
    create_table(
        "alert_watches",
        "subscription_id text, kind text, subject text, value bigint, due_epoch bigint?,"
        "due_at float?",
        sa.PrimaryKeyConstraint("subscription_id", "kind", "subject", name="alert_watches_one"),
    )
    kept: dict[tuple[str, str, str], dict[str, Any]] = {}
    for sub_id, alert_key, kind, subject, due_epoch, due_at in _rows(
        bind,
        "SELECT subscription_id, alert_key, kind, subject, due_epoch, due_at "
        "FROM alert_watches_0005",
    ):
        row = {
            "subject": str(subject),
            "kind": str(kind),
            "subscription_id": str(sub_id),
            "value": int(str(alert_key).rsplit(":", 1)[1]),
            "due_epoch": due_epoch,
            "due_at": due_at,
        }
        key = (row["subscription_id"], row["kind"], row["subject"])
        held = kept.get(key)
        offline = row["kind"] == "gpu_offline"
        if (
            held is None
            or (offline and row["value"] < held["value"])
            or (not offline and row["value"] > held["value"])
        ):
            kept[key] = row
    watches = _watches(
        "alert_watches", "subscription_id", "kind", "subject", "value", "due_epoch", "due_at"
    )
    _insert(bind, watches, list(kept.values()))
    op.drop_table("alert_watches_0005")
    for due in ("due_epoch", "due_at"):
        where = sa.text(f"{due} IS NOT NULL")
        op.create_index(
            f"alert_watches_{due}",
            "alert_watches",
            [due],
            sqlite_where=where,
            postgresql_where=where,
        )


def downgrade() -> None:
    """Back to one row per pending alert (idle rows have no alert to keep)."""
    bind = op.get_bind()
    pending = list(
        _rows(
            bind,
            "SELECT w.subscription_id, w.kind, w.subject, w.value, w.due_epoch, w.due_at, "
            "s.provider FROM alert_watches w JOIN alert_subscriptions s "
            "ON s.id = w.subscription_id "
            "WHERE w.due_epoch IS NOT NULL OR w.due_at IS NOT NULL",
        )
    )
    op.drop_table("alert_watches")
    create_table(
        "alert_watches",
        "subscription_id text key, alert_key text key, kind text, subject text,"
        "due_epoch bigint?, due_at float?, data text",
        indexes={
            "alert_watches_due_epoch": ["due_epoch"],
            "alert_watches_due_at": ["due_at"],
            "alert_watches_subject": ["subject", "kind"],
        },
    )
    watches = _watches(
        "alert_watches",
        "subscription_id",
        "alert_key",
        "kind",
        "subject",
        "due_epoch",
        "due_at",
        "data",
    )
    rows = [
        {
            "subscription_id": sub_id,
            "alert_key": f"{kind}:{subject}:{int(value)}",
            "kind": kind,
            "subject": subject,
            "due_epoch": due_epoch,
            "due_at": due_at,
            "data": json.dumps(
                {
                    "since_epoch" if kind == "gpu_offline" else "expires_at": int(value),
                    "provider": provider,
                }
            ),
        }
        for sub_id, kind, subject, value, due_epoch, due_at, provider in pending
    ]
    _insert(bind, watches, rows)
