// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";

/// @title ProviderRegistry
/// @notice GPU providers register from their wallets and authorize per-machine agent keys.
/// @dev The admin can pause registrations, profile updates and authorizations in an emergency;
/// revocations and deregistrations stay open while paused, so a provider can always cut off a
/// stolen agent key.
contract ProviderRegistry is IProviderRegistry, EIP712, Nonces, Ownable2Step, Pausable {
    // Each typehash beside its type string.
    // Registration(address provider,string name,string region,string endpoint,string metadataURI,bytes32 metadataHash,uint256 nonce,uint256 deadline)
    bytes32 public constant REGISTRATION_TYPEHASH = keccak256(
        "Registration(address provider,string name,string region,string endpoint,string metadataURI,bytes32 metadataHash,uint256 nonce,uint256 deadline)"
    );
    // ProfileUpdate(address provider,string name,string region,string endpoint,string metadataURI,bytes32 metadataHash,uint256 nonce,uint256 deadline)
    bytes32 public constant PROFILE_UPDATE_TYPEHASH = keccak256(
        "ProfileUpdate(address provider,string name,string region,string endpoint,string metadataURI,bytes32 metadataHash,uint256 nonce,uint256 deadline)"
    );
    // AgentAuthorization(address provider,address agent,uint64 expiresAt,uint256 nonce,uint256 deadline)
    bytes32 public constant AGENT_AUTHORIZATION_TYPEHASH = keccak256(
        "AgentAuthorization(address provider,address agent,uint64 expiresAt,uint256 nonce,uint256 deadline)"
    );
    // AgentRevocation(address provider,address agent,uint256 nonce,uint256 deadline)
    bytes32 public constant AGENT_REVOCATION_TYPEHASH =
        keccak256("AgentRevocation(address provider,address agent,uint256 nonce,uint256 deadline)");
    // Deregistration(address provider,uint256 nonce,uint256 deadline)
    bytes32 public constant DEREGISTRATION_TYPEHASH =
        keccak256("Deregistration(address provider,uint256 nonce,uint256 deadline)");

    uint256 public constant MAX_NAME_LENGTH = 64;
    uint256 public constant MAX_REGION_LENGTH = 32;
    uint256 public constant MAX_ENDPOINT_LENGTH = 256;
    uint256 public constant MAX_METADATA_URI_LENGTH = 256;

    mapping(address provider => ProviderRecord) private _providers;
    mapping(address provider => mapping(address agent => uint64 expiresAt)) private _agents;

    constructor(address initialOwner) EIP712("DePIN ProviderRegistry", "1") Ownable(initialOwner) {}

    // ------------------------------------------------------------------ admin

    /// @notice Stops registrations, profile updates and agent authorizations.
    function pause() external onlyOwner {
        _pause();
    }

    /// @notice Lifts {pause}.
    function unpause() external onlyOwner {
        _unpause();
    }

    // ------------------------------------------------------------------ by transaction

    /// @inheritdoc IProviderRegistry
    function register(Profile calldata profile) external whenNotPaused {
        _register(msg.sender, profile);
    }

    /// @inheritdoc IProviderRegistry
    function updateProfile(Profile calldata profile) external whenNotPaused {
        _updateProfile(msg.sender, profile);
    }

    /// @inheritdoc IProviderRegistry
    function authorizeAgent(address agent, uint64 expiresAt) external whenNotPaused {
        _authorizeAgent(msg.sender, agent, expiresAt);
    }

    /// @inheritdoc IProviderRegistry
    function revokeAgent(address agent) external {
        _revokeAgent(msg.sender, agent);
    }

    /// @inheritdoc IProviderRegistry
    function deregister() external {
        _deregister(msg.sender);
    }

    // ------------------------------------------------------------------ by signature

    /// @inheritdoc IProviderRegistry
    function registerWithSig(
        address provider,
        Profile calldata profile,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external whenNotPaused {
        _checkSignature(provider, _profileStructHash(REGISTRATION_TYPEHASH, provider, profile, nonce, deadline), nonce, deadline, signature);
        _register(provider, profile);
    }

    /// @inheritdoc IProviderRegistry
    function updateProfileWithSig(
        address provider,
        Profile calldata profile,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external whenNotPaused {
        _checkSignature(provider, _profileStructHash(PROFILE_UPDATE_TYPEHASH, provider, profile, nonce, deadline), nonce, deadline, signature);
        _updateProfile(provider, profile);
    }

    /// @inheritdoc IProviderRegistry
    function authorizeAgentWithSig(
        address provider,
        address agent,
        uint64 expiresAt,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external whenNotPaused {
        _checkSignature(provider, _agentAuthorizationStructHash(provider, agent, expiresAt, nonce, deadline), nonce, deadline, signature);
        _authorizeAgent(provider, agent, expiresAt);
    }

    /// @inheritdoc IProviderRegistry
    function revokeAgentWithSig(
        address provider,
        address agent,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkSignature(provider, keccak256(abi.encode(AGENT_REVOCATION_TYPEHASH, provider, agent, nonce, deadline)), nonce, deadline, signature);
        _revokeAgent(provider, agent);
    }

    /// @inheritdoc IProviderRegistry
    function deregisterWithSig(address provider, uint256 nonce, uint256 deadline, bytes calldata signature)
        external
    {
        _checkSignature(provider, keccak256(abi.encode(DEREGISTRATION_TYPEHASH, provider, nonce, deadline)), nonce, deadline, signature);
        _deregister(provider);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IProviderRegistry
    function providerRecord(address provider) external view returns (ProviderRecord memory) {
        return _providers[provider];
    }

    /// @inheritdoc IProviderRegistry
    function isActiveProvider(address provider) public view returns (bool) {
        return _providers[provider].status == Status.Active;
    }

    /// @inheritdoc IProviderRegistry
    function isAuthorizedAgent(address provider, address agent) external view returns (bool) {
        return _agents[provider][agent] > _now() && isActiveProvider(provider);
    }

    /// @inheritdoc IProviderRegistry
    function agentExpiry(address provider, address agent) external view returns (uint64) {
        return _agents[provider][agent];
    }

    /// @notice The EIP-712 digest a provider signs for `registerWithSig` (for off-chain signers).
    function registrationDigest(address provider, Profile calldata profile, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(_profileStructHash(REGISTRATION_TYPEHASH, provider, profile, nonce, deadline));
    }

    /// @notice The EIP-712 digest a provider signs for `updateProfileWithSig`.
    function profileUpdateDigest(address provider, Profile calldata profile, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(_profileStructHash(PROFILE_UPDATE_TYPEHASH, provider, profile, nonce, deadline));
    }

    /// @notice The EIP-712 digest a provider signs for `authorizeAgentWithSig`.
    function agentAuthorizationDigest(
        address provider,
        address agent,
        uint64 expiresAt,
        uint256 nonce,
        uint256 deadline
    ) external view returns (bytes32) {
        return _hashTypedDataV4(_agentAuthorizationStructHash(provider, agent, expiresAt, nonce, deadline));
    }

    /// @notice The EIP-712 digest a provider signs for `revokeAgentWithSig`.
    function agentRevocationDigest(address provider, address agent, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(AGENT_REVOCATION_TYPEHASH, provider, agent, nonce, deadline)));
    }

    /// @notice The EIP-712 digest a provider signs for `deregisterWithSig`.
    function deregistrationDigest(address provider, uint256 nonce, uint256 deadline) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(DEREGISTRATION_TYPEHASH, provider, nonce, deadline)));
    }

    // ------------------------------------------------------------------ internals

    /// @dev The clock; a test contract may override it instead of warping the chain's time.
    function _now() internal view virtual returns (uint64) {
        return uint64(block.timestamp);
    }

    function _register(address provider, Profile calldata profile) private {
        ProviderRecord storage record = _providers[provider];
        if (record.status == Status.Active) revert ProviderRegistryAlreadyRegistered(provider);
        if (record.status == Status.Deregistered) revert ProviderRegistryDeregistered(provider);
        _validateProfile(profile);
        record.status = Status.Active;
        record.registeredAt = _now();
        emit ProviderRegistered(
            provider, profile.name, profile.region, profile.endpoint, profile.metadataURI, profile.metadataHash
        );
    }

    function _updateProfile(address provider, Profile calldata profile) private {
        _requireActive(provider);
        _validateProfile(profile);
        emit ProviderUpdated(
            provider, profile.name, profile.region, profile.endpoint, profile.metadataURI, profile.metadataHash
        );
    }

    function _authorizeAgent(address provider, address agent, uint64 expiresAt) private {
        _requireActive(provider);
        if (agent == address(0) || agent == provider) revert ProviderRegistryInvalidAgent(agent);
        if (expiresAt <= _now()) revert ProviderRegistryInvalidExpiry(expiresAt);
        _agents[provider][agent] = expiresAt;
        emit AgentAuthorized(provider, agent, expiresAt);
    }

    function _revokeAgent(address provider, address agent) private {
        if (_agents[provider][agent] == 0) revert ProviderRegistryUnknownAgent(provider, agent);
        delete _agents[provider][agent];
        emit AgentRevoked(provider, agent);
    }

    function _deregister(address provider) private {
        _requireActive(provider);
        ProviderRecord storage record = _providers[provider];
        record.status = Status.Deregistered;
        record.deregisteredAt = _now();
        emit ProviderDeregistered(provider);
    }

    function _requireActive(address provider) private view {
        Status status = _providers[provider].status;
        if (status == Status.Deregistered) revert ProviderRegistryDeregistered(provider);
        if (status != Status.Active) revert ProviderRegistryNotRegistered(provider);
    }

    function _validateProfile(Profile calldata profile) private pure {
        uint256 n = bytes(profile.name).length;
        if (n == 0 || n > MAX_NAME_LENGTH) revert ProviderRegistryInvalidProfileField(0, n, MAX_NAME_LENGTH);
        n = bytes(profile.region).length;
        if (n > MAX_REGION_LENGTH) revert ProviderRegistryInvalidProfileField(1, n, MAX_REGION_LENGTH);
        n = bytes(profile.endpoint).length;
        if (n > MAX_ENDPOINT_LENGTH) revert ProviderRegistryInvalidProfileField(2, n, MAX_ENDPOINT_LENGTH);
        n = bytes(profile.metadataURI).length;
        if (n > MAX_METADATA_URI_LENGTH) {
            revert ProviderRegistryInvalidProfileField(3, n, MAX_METADATA_URI_LENGTH);
        }
    }

    /// @dev Checks the deadline, the signature (EOA or ERC-1271) and consumes the nonce. The
    /// nonce is checked explicitly so a replay fails with a named error, not a bad signature.
    function _checkSignature(
        address provider,
        bytes32 structHash,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) private {
        if (deadline < _now()) revert ProviderRegistryExpiredSignature(deadline);
        _useCheckedNonce(provider, nonce);
        if (!SignatureChecker.isValidSignatureNowCalldata(provider, _hashTypedDataV4(structHash), signature)) {
            revert ProviderRegistryInvalidSignature(provider);
        }
    }

    function _profileStructHash(
        bytes32 typehash,
        address provider,
        Profile calldata profile,
        uint256 nonce,
        uint256 deadline
    ) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                typehash,
                provider,
                keccak256(bytes(profile.name)),
                keccak256(bytes(profile.region)),
                keccak256(bytes(profile.endpoint)),
                keccak256(bytes(profile.metadataURI)),
                profile.metadataHash,
                nonce,
                deadline
            )
        );
    }

    function _agentAuthorizationStructHash(
        address provider,
        address agent,
        uint64 expiresAt,
        uint256 nonce,
        uint256 deadline
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(AGENT_AUTHORIZATION_TYPEHASH, provider, agent, expiresAt, nonce, deadline));
    }
}
