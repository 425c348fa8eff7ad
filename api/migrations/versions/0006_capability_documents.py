"""capability documents: each host's document by its hash, and one facet row per GPU

- ``capability_documents``: the document's RFC 8785 bytes (as text) under its keccak256, put
  only when an attestation on the chain names that hash.
- ``capability_facets``: per GPU of a document, the values ``/v1/gpus`` filters on (versions as
  zero-padded keys that sort numerically), each with an index; the inventory's reads match
  ``(gpus.capabilities, gpus.gpu_key)`` against ``(document_hash, gpu_key)``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"

#: the filterable columns of ``capability_facets``, each indexed
FACETS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("driver_key", sa.String(35)),
    ("cuda_key", sa.String(35)),
    ("rocm_key", sa.String(35)),
    ("compute_capability_key", sa.String(35)),
    ("interconnect", sa.String(8)),
    ("mig", sa.Boolean()),
    ("pcie_gen", sa.Integer()),
    ("host_cpu_cores", sa.BigInteger()),
    ("host_ram_gib", sa.BigInteger()),
    ("host_disk_gib", sa.BigInteger()),
    ("runtime_docker", sa.Boolean()),
    ("runtime_podman", sa.Boolean()),
    ("runtime_nvidia", sa.Boolean()),
    ("gpus_per_host", sa.Integer()),
)


def upgrade() -> None:
    # A state first opened by the API at 7317aea (whose start-up made these tables itself)
    # already has them, as this revision makes them; one whose earlier run of this revision
    # stopped part-way (SQLite's DDL outside a transaction stays) has some of them. Each table
    # and index is made when missing, so such a state reaches the head as a new one does.
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "capability_documents" not in tables:
        op.create_table(
            "capability_documents",
            sa.Column("document_hash", sa.String(66), primary_key=True),
            sa.Column("body", sa.Text(), nullable=False),
            sa.Column("stored_at", sa.BigInteger(), nullable=False),
        )
    indexes: set[str] = set()
    if "capability_facets" in tables:
        indexes = {str(i["name"]) for i in inspector.get_indexes("capability_facets")}
    else:
        op.create_table(
            "capability_facets",
            sa.Column("document_hash", sa.String(66), nullable=False),
            sa.Column("gpu_key", sa.String(66), nullable=False),
            sa.Column("driver_version", sa.String(200), nullable=True),
            *(sa.Column(name, kind, nullable=True) for name, kind in FACETS),
            sa.PrimaryKeyConstraint("document_hash", "gpu_key", name="pk_capability_facets"),
        )
    for name, _ in FACETS:
        if f"ix_capability_facets_{name}" not in indexes:
            op.create_index(f"ix_capability_facets_{name}", "capability_facets", [name])


def downgrade() -> None:
    op.drop_table("capability_facets")
    op.drop_table("capability_documents")
