// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title IProviderRegistry
/// @notice Registry of GPU providers and the agent keys they authorize.
/// @dev Events carry every string (names, regions, endpoints); storage keeps only what other
/// contracts must read: a provider's status and each agent's expiry. Every state change can be
/// made by the provider's own transaction or by anyone relaying the provider's EIP-712 signature
/// (EOA or ERC-1271 wallet), with a per-provider nonce and a deadline.
interface IProviderRegistry {
    /// @notice Lifecycle of a provider. Deregistration is final.
    enum Status {
        None,
        Active,
        Deregistered
    }

    /// @notice What a provider publishes about itself. All strings go to events only.
    struct Profile {
        string name;
        string region;
        string endpoint;
        string metadataURI;
        bytes32 metadataHash;
    }

    /// @notice The on-chain record of a provider (one storage word).
    struct ProviderRecord {
        Status status;
        uint64 registeredAt;
        uint64 deregisteredAt;
    }

    // ---------------------------------------------------------------- errors (EIP-6093 style)

    /// @notice `provider` already has a record.
    error ProviderRegistryAlreadyRegistered(address provider);
    /// @notice `provider` has no active record.
    error ProviderRegistryNotRegistered(address provider);
    /// @notice `provider` deregistered; deregistration is final.
    error ProviderRegistryDeregistered(address provider);
    /// @notice The signed request's `deadline` has passed.
    error ProviderRegistryExpiredSignature(uint256 deadline);
    /// @notice The signature is not `provider`'s (EOA or ERC-1271) for this request and domain.
    error ProviderRegistryInvalidSignature(address provider);
    /// @notice `agent` cannot be authorized (zero address or the provider itself).
    error ProviderRegistryInvalidAgent(address agent);
    /// @notice `expiresAt` is not in the future.
    error ProviderRegistryInvalidExpiry(uint64 expiresAt);
    /// @notice `agent` is not authorized by `provider`.
    error ProviderRegistryUnknownAgent(address provider, address agent);
    /// @notice Profile field number `field` (0 name, 1 region, 2 endpoint, 3 metadataURI) has
    /// `length` bytes where at most `max` (and, for the name, at least one) are allowed.
    error ProviderRegistryInvalidProfileField(uint8 field, uint256 length, uint256 max);

    // ---------------------------------------------------------------- events

    /// @notice `provider` registered with `profile`.
    event ProviderRegistered(
        address indexed provider,
        string name,
        string region,
        string endpoint,
        string metadataURI,
        bytes32 metadataHash
    );
    /// @notice `provider` replaced its profile.
    event ProviderUpdated(
        address indexed provider,
        string name,
        string region,
        string endpoint,
        string metadataURI,
        bytes32 metadataHash
    );
    /// @notice `provider` deregistered; all its agents stop being authorized.
    event ProviderDeregistered(address indexed provider);
    /// @notice `provider` authorized `agent` until `expiresAt` (unix seconds); re-authorizing
    /// an agent replaces its expiry.
    event AgentAuthorized(address indexed provider, address indexed agent, uint64 expiresAt);
    /// @notice `provider` revoked `agent`.
    event AgentRevoked(address indexed provider, address indexed agent);

    // ---------------------------------------------------------------- by transaction

    /// @notice Registers the caller as a provider.
    function register(Profile calldata profile) external;

    /// @notice Replaces the caller's profile.
    function updateProfile(Profile calldata profile) external;

    /// @notice Authorizes `agent` to sign for the caller until `expiresAt`.
    function authorizeAgent(address agent, uint64 expiresAt) external;

    /// @notice Revokes the caller's `agent` at once.
    function revokeAgent(address agent) external;

    /// @notice Deregisters the caller (final).
    function deregister() external;

    // ---------------------------------------------------------------- by signature

    /// @notice Registers `provider` from its EIP-712 `Registration` signature.
    function registerWithSig(
        address provider,
        Profile calldata profile,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Replaces `provider`'s profile from its EIP-712 `ProfileUpdate` signature.
    function updateProfileWithSig(
        address provider,
        Profile calldata profile,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Authorizes `agent` from `provider`'s EIP-712 `AgentAuthorization` signature.
    function authorizeAgentWithSig(
        address provider,
        address agent,
        uint64 expiresAt,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Revokes `agent` from `provider`'s EIP-712 `AgentRevocation` signature.
    function revokeAgentWithSig(
        address provider,
        address agent,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Deregisters `provider` from its EIP-712 `Deregistration` signature.
    function deregisterWithSig(address provider, uint256 nonce, uint256 deadline, bytes calldata signature)
        external;

    // ---------------------------------------------------------------- views

    /// @notice The record of `provider` (status None if it never registered).
    function providerRecord(address provider) external view returns (ProviderRecord memory);

    /// @notice Whether `provider` is registered and not deregistered.
    function isActiveProvider(address provider) external view returns (bool);

    /// @notice Whether `agent` may sign for `provider` now: the provider is active and the
    /// agent's authorization has not expired or been revoked.
    function isAuthorizedAgent(address provider, address agent) external view returns (bool);

    /// @notice The expiry of `agent`'s authorization by `provider` (0 if none).
    function agentExpiry(address provider, address agent) external view returns (uint64);
}
