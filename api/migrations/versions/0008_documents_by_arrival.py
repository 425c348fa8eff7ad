"""capability documents by arrival: a counter of stored documents and an index on
``capability_documents.stored_at``

The API's in-memory GPU index (``api.inventory.columns``) reads, with every snapshot of the
inventory, whether a document arrived: ``capability_generation`` holds one row whose ``value``
grows by one with each new document (in the same transaction), so that read is one row. It then
re-reads only the GPUs named by the documents stored since its last look, found through the
``stored_at`` index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.migrations._ops import create_table

revision: str = "0008"
down_revision: str | None = "0007"


def upgrade() -> None:
    # Each part is made when missing: SQLite's DDL runs outside a transaction, so a run that
    # stopped part-way leaves what it made, and the next run makes the rest.
    inspector = sa.inspect(op.get_bind())
    indexes = {str(i["name"]) for i in inspector.get_indexes("capability_documents")}
    if "ix_capability_documents_stored_at" not in indexes:
        op.create_index("ix_capability_documents_stored_at", "capability_documents", ["stored_at"])
    if "capability_generation" not in set(inspector.get_table_names()):
        create_table("capability_generation", "id int key, value bigint")
    op.execute(
        sa.text(
            "INSERT INTO capability_generation (id, value) "
            "SELECT 1, count(*) FROM capability_documents "
            "WHERE NOT EXISTS (SELECT 1 FROM capability_generation)"
        )
    )


def downgrade() -> None:
    op.drop_table("capability_generation")
    op.drop_index("ix_capability_documents_stored_at", table_name="capability_documents")
