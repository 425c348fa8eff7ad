"""Schema of the web page's configuration route."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BlockExplorer(BaseModel):
    url: str = Field(description="the explorer's base URL (https)")
    address: str = Field(description="an address's page: `{address}` stands for the address")
    transaction: str = Field(description="a transaction's page: `{hash}` stands for its hash")


class ConfigResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "chain_id": 8453,
                    "dev_chain": False,
                    "block_explorer": {
                        "url": "https://basescan.org",
                        "address": "https://basescan.org/address/{address}",
                        "transaction": "https://basescan.org/tx/{hash}",
                    },
                },
                {"chain_id": 31337, "dev_chain": True, "block_explorer": None},
            ]
        }
    )

    chain_id: int | None = Field(
        description="the chain the inventory is indexed from (null before the indexer's "
        "first block, and while neither its database nor the node answers)"
    )
    dev_chain: bool = Field(description="a local development chain (anvil, 31337 or 1337)")
    block_explorer: BlockExplorer | None = Field(
        description="where to look up this chain's addresses and transactions "
        "(DEPIN_API_BLOCK_EXPLORERS, else a well-known chain's default); null when none is set"
    )
