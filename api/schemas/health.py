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


class HealthGpuIndex(BaseModel):
    enabled: bool = Field(description="whether this process answers GPU filters from memory")
    ready: bool = Field(description="built: filters are answered from it (else from SQL)")
    gpus: int | None = Field(default=None, description="GPUs in its newest generation")
    built_in_s: float | None = Field(default=None, description="what its last build took")


class HealthIndexer(BaseModel):
    state: str = Field(description="ok, degraded or halted, as the indexer's database says")
    reasons: list[str] = Field(default_factory=list, description="why, when not ok")
    fix: str | None = Field(default=None, description="what to run when halted")
    halt_reason: str | None = Field(
        default=None, description="deep_reorg, wrong_chain, chain_mismatch, contract_not_deployed"
    )
    progress_at: int | None = Field(
        default=None, description="when the indexer's last working step was (unix seconds)"
    )
    canonical: bool | None = Field(
        default=None,
        description="whether the indexed block's hash is still the node's (null: not checked)",
    )
    lag_at_least: bool = Field(
        default=False, description="the lag is a lower bound: indexed blocks were replaced"
    )


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
                    "indexer": {
                        "state": "ok",
                        "reasons": [],
                        "fix": None,
                        "halt_reason": None,
                        "progress_at": 1735689600,
                        "canonical": True,
                        "lag_at_least": False,
                    },
                }
            ]
        }
    )

    status: str = Field(
        description="ok; halted (the indexer stopped on something only its operator can fix, "
        "see `indexer.fix`); degraded (chain or database unreachable, the indexer making no "
        "progress or its last block replaced on the chain, or liveness more than 2 epochs "
        "behind the chain); or lagging (the indexer more than 100 blocks behind)"
    )
    reasons: list[str] = Field(default_factory=list, description="why, when not ok")
    chain_id: int | None
    chain_head: int | None = Field(description="the node's latest block, null if unreachable")
    indexed_block: int | None = Field(description="the indexer's last committed block")
    lag: int | None = Field(
        description="chain_head - indexed_block; counted from the first replaced block when "
        "indexed blocks are no longer the chain's (`indexer.lag_at_least`)"
    )
    database: bool = Field(description="whether the inventory database answered")
    liveness: HealthLiveness
    as_of_block: int = Field(ge=0, description="the indexed block (0 before any)")
    indexer: HealthIndexer | None = Field(
        default=None, description="the indexer's own record (null if it cannot be read)"
    )
    gpu_index: HealthGpuIndex | None = Field(
        default=None, description="this API process's in-memory index of the GPU list"
    )
