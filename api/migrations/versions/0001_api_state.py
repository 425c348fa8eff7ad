"""the API's shared state under migrations: SIWE nonces and rate-limit buckets

Both tables were created with ``CREATE TABLE IF NOT EXISTS`` at start-up before; a database
that has them keeps them (and their rows) and is only stamped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "siwe_nonces" not in existing:
        op.create_table(
            "siwe_nonces",
            sa.Column("nonce", sa.Text(), primary_key=True),
            sa.Column("expires_at", sa.Float(), nullable=False),
            sa.Column("used", sa.Integer(), nullable=False, server_default="0"),
        )
        op.create_index("siwe_nonces_expiry", "siwe_nonces", ["expires_at"])
    if "rate_buckets" not in existing:
        op.create_table(
            "rate_buckets",
            sa.Column("key", sa.Text(), primary_key=True),
            sa.Column("tokens", sa.Float(), nullable=False),
            sa.Column("updated", sa.Float(), nullable=False),
        )
        op.create_index("rate_buckets_updated", "rate_buckets", ["updated"])


def downgrade() -> None:
    op.drop_table("rate_buckets")
    op.drop_table("siwe_nonces")
