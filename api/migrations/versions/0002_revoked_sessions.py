"""revoked session tokens: sign-out

A session token is an HMAC with an expiry and an id (``jti``); signing out records the id until
the token would have expired anyway, and every check of a session looks here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("jti", sa.Text(), primary_key=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("revoked_sessions_expiry", "revoked_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("revoked_sessions")
