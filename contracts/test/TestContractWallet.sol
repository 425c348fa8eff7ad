// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title TestContractWallet
/// @notice A minimal ERC-1271 smart wallet for tests: it approves a digest when its owner signed
/// it and approvals are switched on, like a Safe whose owners signed.
contract TestContractWallet is IERC1271 {
    address public immutable owner;
    bool public approving = true;

    constructor(address owner_) {
        owner = owner_;
    }

    function setApproving(bool value) external {
        require(msg.sender == owner, "not owner");
        approving = value;
    }

    /// @notice Lets the owner make calls as the wallet (a provider acting by transaction).
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        require(msg.sender == owner, "not owner");
        (bool ok, bytes memory result) = target.call(data);
        if (!ok) {
            assembly {
                revert(add(result, 32), mload(result))
            }
        }
        return result;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(hash, signature);
        if (approving && err == ECDSA.RecoverError.NoError && recovered == owner) {
            return IERC1271.isValidSignature.selector;
        }
        return 0xffffffff;
    }
}
