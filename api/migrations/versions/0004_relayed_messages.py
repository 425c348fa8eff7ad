"""relayed messages: which provider each relayed transaction was for

The relayer's ledger keys a transaction by the signed message's EIP-712 digest (``ref``);
this table names the message's provider, kind and nonce, so a provider's console lists its
relayed transactions with their outcomes from the ledger.
"""

from __future__ import annotations

from alembic import op

from api.migrations._ops import create_table

revision: str = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    create_table(
        "relayed_messages",
        "ref text key, provider text, primary_type text, nonce text, tx_hash text,relayed_at float",
        indexes={"relayed_messages_provider": ["provider", "relayed_at"]},
    )


def downgrade() -> None:
    op.drop_table("relayed_messages")
