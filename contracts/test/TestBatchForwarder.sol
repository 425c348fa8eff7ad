// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title TestBatchForwarder
/// @notice Tests and benchmarks only (never deployed outside them): relays many calls to one
/// target in a single transaction, such as `authorizeAgentWithSig` messages that providers
/// signed off-chain, so that a fleet of thousands of agents is set up in a few blocks.
contract TestBatchForwarder {
    /// @notice Call `index` of a batch reverted with `reason`.
    error TestBatchForwarderCallFailed(uint256 index, bytes reason);

    /// @notice Calls `target` with each of `calls` in order; reverts at the first failure.
    function forward(address target, bytes[] calldata calls) external {
        for (uint256 i = 0; i < calls.length; ++i) {
            (bool ok, bytes memory reason) = target.call(calls[i]);
            if (!ok) revert TestBatchForwarderCallFailed(i, reason);
        }
    }
}
