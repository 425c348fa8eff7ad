// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {AttestationOracle} from "../AttestationOracle.sol";
import {IProviderRegistry} from "../interfaces/IProviderRegistry.sol";

/// @title TestAttestationOracle
/// @notice AttestationOracle with a settable clock, so tests move time without warping the chain.
contract TestAttestationOracle is AttestationOracle {
    uint256 private _clock;

    constructor(IProviderRegistry registry, address initialOwner, uint64 epochLength)
        AttestationOracle(registry, initialOwner, epochLength)
    {}

    /// @notice Pins the clock at `timestamp` (0 follows the block's timestamp again).
    function setNow(uint256 timestamp) external {
        _clock = timestamp;
    }

    function _now() internal view override returns (uint256) {
        return _clock == 0 ? block.timestamp : _clock;
    }
}
