"""webhook alerts: subscriptions, pending watches, deliveries and their log

- ``alert_subscriptions``: a provider's URL, the events it wants, its parameters (offline for
  N epochs, expiring within T seconds), its signing secret, and whether it was disabled (why);
  ``since_change`` / ``since_block``: the feed position its seeding read the inventory at.
- ``alert_watches``: alerts that fire later (an offline GPU after N epochs, an expiry T before),
  each once, by its key; the evaluator reads only the due ones.
- ``alert_deliveries``: one row per alert and subscription (unique key: an alert is made once),
  its body fixed when made, its attempts and ``next_attempt_at`` (exponential backoff).
- ``alert_log``: every attempt's outcome, and why a subscription was disabled.
- ``alert_cursors``: where the evaluator stands in the changes feed and the events.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alert_subscriptions",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("offline_epochs", sa.Integer(), nullable=False),
        sa.Column("expiring_within_s", sa.BigInteger(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("since_change", sa.BigInteger(), nullable=False),
        sa.Column("since_block", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("disabled_at", sa.Float(), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
    )
    op.create_index("alert_subscriptions_provider", "alert_subscriptions", ["provider"])
    op.create_table(
        "alert_watches",
        sa.Column("subscription_id", sa.Text(), primary_key=True),
        sa.Column("alert_key", sa.Text(), primary_key=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("due_epoch", sa.BigInteger(), nullable=True),
        sa.Column("due_at", sa.Float(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
    )
    op.create_index("alert_watches_due_epoch", "alert_watches", ["due_epoch"])
    op.create_index("alert_watches_due_at", "alert_watches", ["due_at"])
    op.create_index("alert_watches_subject", "alert_watches", ["subject", "kind"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.Text(), nullable=False),
        sa.Column("alert_key", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("delivered_at", sa.Float(), nullable=True),
        sa.UniqueConstraint("subscription_id", "alert_key", name="alert_deliveries_once"),
        sqlite_autoincrement=True,
    )
    op.create_index("alert_deliveries_due", "alert_deliveries", ["state", "next_attempt_at"])
    op.create_index("alert_deliveries_subscription", "alert_deliveries", ["subscription_id", "id"])
    op.create_table(
        "alert_log",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.Text(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("alert_log_subscription", "alert_log", ["subscription_id", "id"])
    op.create_table(
        "alert_cursors",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "alert_cursors",
        "alert_log",
        "alert_deliveries",
        "alert_watches",
        "alert_subscriptions",
    ):
        op.drop_table(table)
