"""Schema of the health route."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HealthResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "chain_id": 31337,
                    "chain_head": 1210,
                    "indexed_block": 1208,
                    "lag": 2,
                    "database": True,
                    "as_of_block": 1208,
                }
            ]
        }
    )

    status: str = Field(description="ok, degraded (chain or database unreachable) or lagging")
    chain_id: int | None
    chain_head: int | None = Field(description="the node's latest block, null if unreachable")
    indexed_block: int | None = Field(description="the indexer's last committed block")
    lag: int | None = Field(description="chain_head - indexed_block")
    database: bool = Field(description="whether the inventory database answered")
    as_of_block: int = Field(ge=0, description="the indexed block (0 before any)")
