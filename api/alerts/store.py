"""Webhook subscriptions, their deliveries and their log, in the state every worker shares."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from api.errors import SubscriptionLimitError
from api.shared import State, Tx, now, owned

#: the alerts a subscription can ask for
ALERT_EVENTS = (
    "gpu_offline",
    "gpu_unhealthy",
    "attestation_expiring",
    "agent_expiring",
    "attestation_rejected",
    "provider_changed",
)
#: a change to any subscription moves this cursor, so evaluators reload them
VERSION = "subscriptions"

_COLUMNS = (
    "id, provider, url, events, offline_epochs, expiring_within_s, secret, created_at, "
    "since_change, since_block, failures, disabled_at, disabled_reason"
)


@dataclass(frozen=True)
class Subscription:
    id: str
    provider: str
    url: str
    events: tuple[str, ...]
    offline_epochs: int
    expiring_within_s: int
    secret: str
    created_at: float
    #: the changes feed's last id and the block the subscription's seeding read the inventory at
    since_change: int
    since_block: int
    failures: int = 0
    disabled_at: float | None = None
    disabled_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def subscription(row: Any) -> Subscription:
    return Subscription(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        tuple(str(row[3]).split()),
        int(row[4]),
        int(row[5]),
        str(row[6]),
        float(row[7]),
        int(row[8]),
        int(row[9]),
        int(row[10]),
        None if row[11] is None else float(row[11]),
        None if row[12] is None else str(row[12]),
    )


def bump_version(tx: Tx) -> None:
    """Tells every evaluator that the subscriptions changed."""
    moved = tx.execute("UPDATE alert_cursors SET value = value + 1 WHERE name = ?", (VERSION,))
    if moved.rowcount == 0:
        tx.execute("INSERT INTO alert_cursors (name, value) VALUES (?, 1)", (VERSION,))


def new_subscription(
    provider: str,
    url: str,
    events: tuple[str, ...],
    *,
    offline_epochs: int,
    expiring_within_s: int,
    since_change: int,
    since_block: int,
) -> Subscription:
    """A subscription with a fresh id and signing secret (not stored yet)."""
    return Subscription(
        "sub_" + secrets.token_hex(8),
        provider,
        url,
        tuple(e for e in ALERT_EVENTS if e in events),
        offline_epochs,
        expiring_within_s,
        "whsec_" + secrets.token_urlsafe(32),
        now(),
        since_change,
        since_block,
    )


def insert(tx: Tx, sub: Subscription, limit: int) -> None:
    """Stores ``sub``, unless its provider has ``limit`` subscriptions already."""
    tx.lock(f"alerts:{sub.provider}")
    count = tx.execute(
        "SELECT count(*) FROM alert_subscriptions WHERE provider = ?", (sub.provider,)
    ).fetchone()
    if int(count[0]) >= limit:
        raise SubscriptionLimitError(
            f"{sub.provider} has {limit} webhook subscriptions; delete one first", limit=limit
        )
    tx.execute(
        f"INSERT INTO alert_subscriptions ({_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL)",
        (
            sub.id,
            sub.provider,
            sub.url,
            " ".join(sub.events),
            sub.offline_epochs,
            sub.expiring_within_s,
            sub.secret,
            sub.created_at,
            sub.since_change,
            sub.since_block,
        ),
    )
    bump_version(tx)


class AlertStore:
    """Subscriptions (made, listed, deleted, re-enabled), their deliveries and log."""

    def __init__(self, state: State) -> None:
        self.state = state

    def of(self, provider: str) -> list[Subscription]:
        with self.state.transaction() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM alert_subscriptions WHERE provider = ? "
                "ORDER BY created_at, id",
                (provider,),
            ).fetchall()
        return [subscription(r) for r in rows]

    def owned(self, sub_id: str, provider: str) -> Subscription:
        """``provider``'s subscription ``sub_id``: 404 if there is none, 403 if it is another
        provider's."""
        with self.state.transaction() as tx:
            return self._owned(tx, sub_id, provider)

    @staticmethod
    def _owned(tx: Tx, sub_id: str, provider: str) -> Subscription:
        return owned(
            tx,
            "alert_subscriptions",
            _COLUMNS,
            "webhook subscription",
            sub_id,
            provider,
            subscription,
        )

    def delete(self, sub_id: str, provider: str) -> None:
        """Deletes the subscription, its watches, deliveries and log."""
        with self.state.transaction() as tx:
            self._owned(tx, sub_id, provider)
            for table in ("alert_watches", "alert_deliveries", "alert_log"):
                tx.execute(f"DELETE FROM {table} WHERE subscription_id = ?", (sub_id,))
            tx.execute("DELETE FROM alert_subscriptions WHERE id = ?", (sub_id,))
            bump_version(tx)

    def enable(self, sub_id: str, provider: str) -> Subscription:
        """Re-enables a disabled subscription: its pending deliveries are tried again now."""
        with self.state.transaction() as tx:
            sub = self._owned(tx, sub_id, provider)
            if sub.disabled_at is not None:
                at = now()
                tx.execute(
                    "UPDATE alert_subscriptions SET disabled_at = NULL, disabled_reason = NULL, "
                    "failures = 0 WHERE id = ?",
                    (sub_id,),
                )
                tx.execute(
                    "UPDATE alert_deliveries SET next_attempt_at = ? "
                    "WHERE subscription_id = ? AND state = 'pending'",
                    (at, sub_id),
                )
                log(tx, sub_id, None, None, "enabled", None, "re-enabled by its provider", at)
                bump_version(tx)
            return self._owned(tx, sub_id, provider)

    def deliveries(self, sub_id: str, limit: int) -> list[dict[str, Any]]:
        with self.state.transaction() as tx:
            rows = tx.execute(
                "SELECT id, idempotency_key, event, state, attempts, next_attempt_at, "
                "created_at, delivered_at, body FROM alert_deliveries WHERE subscription_id = ? "
                "ORDER BY id DESC LIMIT ?",
                (sub_id, limit),
            ).fetchall()
        return [
            {
                "id": int(r[0]),
                "idempotency_key": r[1],
                "event": r[2],
                "state": r[3],
                "attempts": int(r[4]),
                "next_attempt_at": float(r[5]) if r[3] == "pending" else None,
                "created_at": float(r[6]),
                "delivered_at": None if r[7] is None else float(r[7]),
                "body": json.loads(r[8]),
            }
            for r in rows
        ]

    def log(self, sub_id: str, limit: int) -> list[dict[str, Any]]:
        with self.state.transaction() as tx:
            rows = tx.execute(
                "SELECT id, delivery_id, at, attempt, outcome, status, detail FROM alert_log "
                "WHERE subscription_id = ? ORDER BY id DESC LIMIT ?",
                (sub_id, limit),
            ).fetchall()
        return [
            {
                "id": int(r[0]),
                "delivery_id": None if r[1] is None else int(r[1]),
                "at": float(r[2]),
                "attempt": None if r[3] is None else int(r[3]),
                "outcome": r[4],
                "status": None if r[5] is None else int(r[5]),
                "detail": r[6],
            }
            for r in rows
        ]


def log(
    tx: Tx,
    sub_id: str,
    delivery_id: int | None,
    attempt: int | None,
    outcome: str,
    status: int | None,
    detail: str,
    at: float,
) -> None:
    """One line of a subscription's delivery log."""
    tx.execute(
        "INSERT INTO alert_log (subscription_id, delivery_id, at, attempt, outcome, status, "
        "detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (sub_id, delivery_id, at, attempt, outcome, status, detail[:1000]),
    )
