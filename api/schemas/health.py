"""Schema of the health route."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HealthLiveness(BaseModel):
    last_epoch: int | None = Field(description="the last epoch with a liveness record")
    current_epoch: int | None = Field(
        description="the chain head's epoch (the indexed block's if the node does not answer)"
    )
    epochs_behind: int | None
    fresh: bool = Field(description="at most 2 epochs behind")


class HealthResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "reasons": [],
                    "chain_id": 31337,
                    "chain_head": 1210,
                    "indexed_block": 1208,
                    "lag": 2,
                    "database": True,
                    "liveness": {
                        "last_epoch": 4123,
                        "current_epoch": 4123,
                        "epochs_behind": 0,
                        "fresh": True,
                    },
                    "as_of_block": 1208,
                }
            ]
        }
    )

    status: str = Field(
        description="ok; degraded (chain or database unreachable, or liveness more than 2 "
        "epochs behind the chain); or lagging (the indexer more than 100 blocks behind)"
    )
    reasons: list[str] = Field(default_factory=list, description="why, when not ok")
    chain_id: int | None
    chain_head: int | None = Field(description="the node's latest block, null if unreachable")
    indexed_block: int | None = Field(description="the indexer's last committed block")
    lag: int | None = Field(description="chain_head - indexed_block")
    database: bool = Field(description="whether the inventory database answered")
    liveness: HealthLiveness
    as_of_block: int = Field(ge=0, description="the indexed block (0 before any)")
