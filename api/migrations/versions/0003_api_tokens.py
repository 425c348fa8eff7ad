"""API tokens: scoped, revocable credentials a provider makes for its scripts

Only the SHA-256 of a token is kept (the token itself is shown once, when it is made);
``prefix`` is its first characters, to tell tokens apart in a listing.
"""

from __future__ import annotations

from alembic import op

from api.migrations._ops import create_table

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    create_table(
        "api_tokens",
        "id text key, provider text, name text, token_hash text unique, prefix text, scopes text,"
        "created_at float, expires_at float?, revoked_at float?, last_used_at float?",
        indexes={"api_tokens_provider": ["provider", "created_at"]},
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
