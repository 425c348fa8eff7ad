// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title EventFlood
/// @notice Benchmark-only: emits ProviderRegistry's events (same signatures) many per call, so
/// an indexer can be measured on 100,000+ events without 100,000 transactions.
contract EventFlood {
    event ProviderRegistered(
        address indexed provider,
        string name,
        string region,
        string endpoint,
        string metadataURI,
        bytes32 metadataHash
    );
    event AgentAuthorized(address indexed provider, address indexed agent, uint64 expiresAt);
    event AgentRevoked(address indexed provider, address indexed agent);

    /// @notice For i in [start, start + n): provider i registers every 10th i, and every i
    /// authorizes an agent; every 7th i revokes it again.
    function flood(uint256 start, uint256 n) external {
        for (uint256 i = start; i < start + n; ++i) {
            address provider = address(uint160(0x100000 + i / 10));
            if (i % 10 == 0) {
                emit ProviderRegistered(
                    provider, "bench-provider", "eu-west", "https://gpu.example", "ipfs://bafy", bytes32(i)
                );
            }
            address agent = address(uint160(0x200000 + i));
            emit AgentAuthorized(provider, agent, uint64(2_000_000_000 + i));
            if (i % 7 == 0) emit AgentRevoked(provider, agent);
        }
    }
}
