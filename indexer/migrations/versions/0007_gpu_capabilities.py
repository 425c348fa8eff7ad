"""gpus and attestations: the capability document each attestation names

``capabilities`` is the keccak256 (0x-hex) of the host's capability document that the
attestation carries in its ``capabilities`` word, NULL when the word is zero (no document). The
index on ``gpus`` answers whether the chain attested a document's hash, and which GPUs it
describes. Rows indexed before this revision have NULL until their GPU is attested again.
"""

from __future__ import annotations

import sqlalchemy as sa

from indexer.migrations._ops import add_columns, create_indexes, drop_columns, drop_indexes, indexed

revision: str = "0007"
down_revision: str | None = "0006"


def upgrade() -> None:
    add_columns("gpus", sa.Column("capabilities", sa.String(length=66), nullable=True))
    create_indexes("gpus", indexed("gpus", "capabilities"))
    add_columns("attestations", sa.Column("capabilities", sa.String(length=66), nullable=True))


def downgrade() -> None:
    drop_columns("attestations", "capabilities")
    drop_indexes("gpus", "ix_gpus_capabilities")
    drop_columns("gpus", "capabilities")
