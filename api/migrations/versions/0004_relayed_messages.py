"""relayed messages: which provider each relayed transaction was for

The relayer's ledger keys a transaction by the signed message's EIP-712 digest (``ref``);
this table names the message's provider, kind and nonce, so a provider's console lists its
relayed transactions with their outcomes from the ledger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    op.create_table(
        "relayed_messages",
        sa.Column("ref", sa.Text(), primary_key=True),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("primary_type", sa.Text(), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=False),
        sa.Column("tx_hash", sa.Text(), nullable=False),
        sa.Column("relayed_at", sa.Float(), nullable=False),
    )
    op.create_index("relayed_messages_provider", "relayed_messages", ["provider", "relayed_at"])


def downgrade() -> None:
    op.drop_table("relayed_messages")
