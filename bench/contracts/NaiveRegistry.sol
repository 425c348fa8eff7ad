// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// A registry as commonly first written: the whole profile (strings included) in storage.
/// Only here as the gas baseline that bench/gas.py prints beside ProviderRegistry.
contract NaiveRegistry {
    struct Profile {
        string name;
        string region;
        string endpoint;
        string metadataURI;
        bytes32 metadataHash;
    }

    mapping(address => Profile) public profiles;
    mapping(address => bool) public registered;
    mapping(address => mapping(address => uint256)) public agentExpiry;

    event Registered(address indexed provider);
    event AgentAuthorized(address indexed provider, address indexed agent, uint256 expiresAt);

    function register(Profile calldata profile) external {
        require(!registered[msg.sender], "registered");
        registered[msg.sender] = true;
        profiles[msg.sender] = profile;
        emit Registered(msg.sender);
    }

    function authorizeAgent(address agent, uint256 expiresAt) external {
        require(registered[msg.sender], "not registered");
        agentExpiry[msg.sender][agent] = expiresAt;
        emit AgentAuthorized(msg.sender, agent, expiresAt);
    }
}
