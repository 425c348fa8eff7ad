"""revoked session tokens: sign-out

A session token is an HMAC with an expiry and an id (``jti``); signing out records the id until
the token would have expired anyway, and every check of a session looks here.
"""

from __future__ import annotations

from alembic import op

from api.migrations._ops import create_table

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    create_table(
        "revoked_sessions",
        "jti text key, expires_at float",
        indexes={"revoked_sessions_expiry": ["expires_at"]},
    )


def downgrade() -> None:
    op.drop_table("revoked_sessions")
