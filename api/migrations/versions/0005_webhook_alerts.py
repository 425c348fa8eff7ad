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

from api.migrations._ops import create_table

revision: str = "0005"
down_revision: str | None = "0004"


def upgrade() -> None:
    create_table(
        "alert_subscriptions",
        "id text key, provider text, url text, events text, offline_epochs int,"
        "expiring_within_s bigint, secret text, created_at float, since_change bigint,"
        "since_block bigint, failures int =0, disabled_at float?, disabled_reason text?",
        indexes={"alert_subscriptions_provider": ["provider"]},
    )
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
    create_table(
        "alert_deliveries",
        "id serial key, subscription_id text, alert_key text, idempotency_key text, event text,"
        "body text, state text, attempts int =0, next_attempt_at float, created_at float,"
        "delivered_at float?",
        sa.UniqueConstraint("subscription_id", "alert_key", name="alert_deliveries_once"),
        indexes={
            "alert_deliveries_due": ["state", "next_attempt_at"],
            "alert_deliveries_subscription": ["subscription_id", "id"],
        },
        sqlite_autoincrement=True,
    )
    create_table(
        "alert_log",
        "id serial key, subscription_id text, delivery_id bigint?, at float, attempt int?,"
        "outcome text, status int?, detail text",
        indexes={"alert_log_subscription": ["subscription_id", "id"]},
        sqlite_autoincrement=True,
    )
    create_table("alert_cursors", "name text key, value bigint")


def downgrade() -> None:
    for table in (
        "alert_cursors",
        "alert_log",
        "alert_deliveries",
        "alert_watches",
        "alert_subscriptions",
    ):
        op.drop_table(table)
