// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

import {IAttestationOracle} from "./interfaces/IAttestationOracle.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";

/// @title AttestationOracle
/// @notice Records GPU attestations signed by authorized agents and vouched for by t of N
/// oracles; records per-epoch liveness bitmaps.
/// @dev Gas: oracles co-sign one digest per batch (one quorum check per batch); each entry costs
/// one agent ecrecover, one registry call (skipped when the previous entry had the same provider
/// and agent, as the GPUs of one host do), one storage word and one event.
contract AttestationOracle is IAttestationOracle, EIP712, Ownable2Step {
    // Each typehash beside its type string.
    // GpuAttestation(address provider,address agent,bytes32 gpuKey,uint16 vendorId,bytes32 model,uint64 memoryBytes,uint32 fp32Gflops,uint32 fp16Gflops,uint32 memoryBandwidthGBps,uint32 provenInt8Gops,bytes32 challenge,uint32 measuredAt,uint32 expiresAt,bytes32 capabilities)
    bytes32 public constant GPU_ATTESTATION_TYPEHASH = keccak256(
        "GpuAttestation(address provider,address agent,bytes32 gpuKey,uint16 vendorId,bytes32 model,uint64 memoryBytes,uint32 fp32Gflops,uint32 fp16Gflops,uint32 memoryBandwidthGBps,uint32 provenInt8Gops,bytes32 challenge,uint32 measuredAt,uint32 expiresAt,bytes32 capabilities)"
    );
    // AttestationBatch(uint32 configVersion,GpuAttestation[] attestations)GpuAttestation(...as above...)
    bytes32 public constant ATTESTATION_BATCH_TYPEHASH = keccak256(
        "AttestationBatch(uint32 configVersion,GpuAttestation[] attestations)GpuAttestation(address provider,address agent,bytes32 gpuKey,uint16 vendorId,bytes32 model,uint64 memoryBytes,uint32 fp32Gflops,uint32 fp16Gflops,uint32 memoryBandwidthGBps,uint32 provenInt8Gops,bytes32 challenge,uint32 measuredAt,uint32 expiresAt,bytes32 capabilities)"
    );
    // LivenessReport(uint32 configVersion,uint64 epoch,bytes online,bytes available,bytes healthy)
    bytes32 public constant LIVENESS_REPORT_TYPEHASH =
        keccak256("LivenessReport(uint32 configVersion,uint64 epoch,bytes online,bytes available,bytes healthy)");
    // GpuRevocation(uint32 configVersion,bytes32 gpuKey,uint32 measuredAt)
    bytes32 public constant GPU_REVOCATION_TYPEHASH =
        keccak256("GpuRevocation(uint32 configVersion,bytes32 gpuKey,uint32 measuredAt)");

    /// @notice At most this many oracles (their bits fit the low 64 bits of a quorum word).
    uint256 public constant MAX_ORACLES = 64;
    /// @notice How far ahead of the chain's clock an agent's `measuredAt` may be (seconds).
    uint256 public constant MAX_CLOCK_SKEW = 300;
    /// @notice Length of a liveness epoch in seconds (epoch = timestamp / EPOCH_LENGTH).
    uint64 public immutable EPOCH_LENGTH;
    /// @notice The registry that says which agents sign for which provider.
    IProviderRegistry public immutable REGISTRY;

    /// @dev Everything a batch needs, in one word.
    struct State {
        uint32 configVersion;
        uint8 threshold;
        uint8 oracleCount;
        uint32 gpuCount;
        uint64 lastEpoch;
    }

    /// @dev What the entries of one batch share while it is processed.
    struct Cursor {
        bytes32 domainSeparator;
        uint256 now_;
        uint256 quorum;
        uint32 gpuCount;
        address lastProvider;
        address lastAgent;
        bool lastAuthorized;
    }

    State private _state;
    address[] private _oracles;
    /// @dev configVersion << 8 | position; an oracle is current when its version is current.
    mapping(address oracle => uint256 membership) private _membership;
    /// @dev provider (160) | index (32) | measuredAt (32) | expiresAt (32); expiresAt 0 = revoked.
    mapping(bytes32 gpuKey => uint256 word) private _gpus;

    uint256 private constant _U32 = 0xffffffff;

    constructor(IProviderRegistry registry, address initialOwner, uint64 epochLength)
        EIP712("DePIN AttestationOracle", "1")
        Ownable(initialOwner)
    {
        REGISTRY = registry;
        EPOCH_LENGTH = epochLength == 0 ? 1 : epochLength;
    }

    // ------------------------------------------------------------------ admin

    /// @inheritdoc IAttestationOracle
    function setOracleConfig(address[] calldata oracles, uint8 threshold) external onlyOwner {
        uint256 count = oracles.length;
        if (count == 0 || count > MAX_ORACLES || threshold == 0 || threshold > count) {
            revert AttestationOracleInvalidConfig(count, threshold);
        }
        uint32 version = _state.configVersion + 1;
        for (uint256 i = 0; i < count; ++i) {
            address oracle = oracles[i];
            if (oracle == address(0) || _membership[oracle] >> 8 == version) {
                revert AttestationOracleInvalidOracle(oracle);
            }
            _membership[oracle] = (uint256(version) << 8) | i;
        }
        _oracles = oracles;
        _state.configVersion = version;
        _state.threshold = threshold;
        _state.oracleCount = uint8(count);
        emit OracleConfigSet(version, oracles, threshold);
    }

    // ------------------------------------------------------------------ oracles

    /// @inheritdoc IAttestationOracle
    function submit(
        uint32 configVersion_,
        SignedAttestation[] calldata attestations,
        Signature[] calldata oracleSignatures
    ) external returns (uint256 accepted) {
        State memory state = _state;
        uint256 n = attestations.length;
        if (n == 0) revert AttestationOracleEmptyBatch();
        _requireVersion(configVersion_, state);

        bytes32[] memory structHashes = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            structHashes[i] = _structHash(attestations[i]);
        }
        bytes32 entriesHash;
        assembly ("memory-safe") {
            entriesHash := keccak256(add(structHashes, 0x20), mul(n, 0x20))
        }
        bytes32 batchDigest =
            _hashTypedDataV4(keccak256(abi.encode(ATTESTATION_BATCH_TYPEHASH, configVersion_, entriesHash)));
        uint256 quorum = _checkQuorum(batchDigest, oracleSignatures, state);

        Cursor memory cursor = Cursor({
            domainSeparator: _domainSeparatorV4(),
            now_: _now(),
            quorum: quorum,
            gpuCount: state.gpuCount,
            lastProvider: address(0),
            lastAgent: address(0),
            lastAuthorized: false
        });
        for (uint256 i = 0; i < n; ++i) {
            if (_record(attestations[i], structHashes[i], cursor)) ++accepted;
        }
        if (cursor.gpuCount != state.gpuCount) _state.gpuCount = cursor.gpuCount;
        emit AttestationBatchSubmitted(batchDigest, quorum, accepted, n - accepted);
    }

    /// @inheritdoc IAttestationOracle
    function recordLiveness(
        uint32 configVersion_,
        uint64 epoch,
        Liveness calldata liveness,
        Signature[] calldata oracleSignatures
    ) external {
        State memory state = _state;
        _requireVersion(configVersion_, state);
        uint64 current = uint64(_now()) / EPOCH_LENGTH;
        if ((state.lastEpoch != 0 && epoch <= state.lastEpoch) || epoch > current) {
            revert AttestationOracleInvalidEpoch(epoch, state.lastEpoch, current);
        }
        uint256 maxLength = (uint256(state.gpuCount) + 7) >> 3;
        _requireBitmapLength(liveness.online.length, maxLength);
        _requireBitmapLength(liveness.available.length, maxLength);
        _requireBitmapLength(liveness.healthy.length, maxLength);
        uint256 quorum = _checkQuorum(_livenessDigest(configVersion_, epoch, liveness), oracleSignatures, state);
        _state.lastEpoch = epoch;
        emit LivenessRecorded(epoch, quorum, liveness.online, liveness.available, liveness.healthy);
    }

    /// @inheritdoc IAttestationOracle
    function revoke(uint32 configVersion_, bytes32 gpuKey, uint32 measuredAt, Signature[] calldata oracleSignatures)
        external
    {
        State memory state = _state;
        _requireVersion(configVersion_, state);
        uint256 word = _gpus[gpuKey];
        if (word == 0) revert AttestationOracleUnknownGpu(gpuKey);
        uint32 latest = uint32(word >> 32);
        if (latest != measuredAt) revert AttestationOracleRevocationMismatch(gpuKey, measuredAt, latest);
        bytes32 digest =
            _hashTypedDataV4(keccak256(abi.encode(GPU_REVOCATION_TYPEHASH, configVersion_, gpuKey, measuredAt)));
        _checkQuorum(digest, oracleSignatures, state);
        _revoke(gpuKey, word, false);
    }

    /// @inheritdoc IAttestationOracle
    function retire(bytes32 gpuKey) external {
        uint256 word = _gpus[gpuKey];
        if (word == 0) revert AttestationOracleUnknownGpu(gpuKey);
        if (address(uint160(word >> 96)) != msg.sender) revert AttestationOracleNotGpuProvider(gpuKey, msg.sender);
        _revoke(gpuKey, word, true);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IAttestationOracle
    function isVerified(bytes32 gpuKey) external view returns (bool) {
        return (_gpus[gpuKey] & _U32) > _now();
    }

    /// @inheritdoc IAttestationOracle
    function gpuRecord(bytes32 gpuKey) external view returns (GpuRecord memory) {
        uint256 word = _gpus[gpuKey];
        return GpuRecord({
            provider: address(uint160(word >> 96)),
            index: uint32(word >> 64),
            measuredAt: uint32(word >> 32),
            expiresAt: uint32(word)
        });
    }

    /// @notice The raw storage word of `gpuKey` (provider | index | measuredAt | expiresAt).
    function gpuWord(bytes32 gpuKey) external view returns (uint256) {
        return _gpus[gpuKey];
    }

    /// @inheritdoc IAttestationOracle
    function configVersion() external view returns (uint32) {
        return _state.configVersion;
    }

    /// @inheritdoc IAttestationOracle
    function oracleConfig() external view returns (uint32 version, address[] memory oracles, uint8 threshold) {
        return (_state.configVersion, _oracles, _state.threshold);
    }

    /// @inheritdoc IAttestationOracle
    function gpuCount() external view returns (uint32) {
        return _state.gpuCount;
    }

    /// @inheritdoc IAttestationOracle
    function lastLivenessEpoch() external view returns (uint64) {
        return _state.lastEpoch;
    }

    /// @notice The EIP-712 digest an agent signs for `attestation` (its r and vs are ignored).
    function attestationDigest(SignedAttestation calldata attestation) external view returns (bytes32) {
        return _hashTypedDataV4(_structHash(attestation));
    }

    /// @notice The EIP-712 digest the oracles sign for a batch.
    function batchDigest(uint32 configVersion_, SignedAttestation[] calldata attestations)
        external
        view
        returns (bytes32)
    {
        bytes32[] memory structHashes = new bytes32[](attestations.length);
        for (uint256 i = 0; i < attestations.length; ++i) {
            structHashes[i] = _structHash(attestations[i]);
        }
        return _hashTypedDataV4(
            keccak256(abi.encode(ATTESTATION_BATCH_TYPEHASH, configVersion_, keccak256(abi.encodePacked(structHashes))))
        );
    }

    /// @notice The EIP-712 digest the oracles sign for a liveness report.
    function livenessDigest(uint32 configVersion_, uint64 epoch, Liveness calldata liveness)
        external
        view
        returns (bytes32)
    {
        return _livenessDigest(configVersion_, epoch, liveness);
    }

    function _livenessDigest(uint32 configVersion_, uint64 epoch, Liveness calldata liveness)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    LIVENESS_REPORT_TYPEHASH,
                    configVersion_,
                    epoch,
                    keccak256(liveness.online),
                    keccak256(liveness.available),
                    keccak256(liveness.healthy)
                )
            )
        );
    }

    function _requireBitmapLength(uint256 length, uint256 maxLength) private pure {
        if (length > maxLength) revert AttestationOracleBitmapTooLong(length, maxLength);
    }

    /// @notice The EIP-712 digest the oracles sign for a revocation.
    function revocationDigest(uint32 configVersion_, bytes32 gpuKey, uint32 measuredAt)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(GPU_REVOCATION_TYPEHASH, configVersion_, gpuKey, measuredAt)));
    }

    // ------------------------------------------------------------------ internals

    /// @dev The clock; a test contract may override it instead of warping the chain's time.
    function _now() internal view virtual returns (uint256) {
        return block.timestamp;
    }

    function _requireVersion(uint32 given, State memory state) private pure {
        if (given != state.configVersion || given == 0) {
            revert AttestationOracleWrongConfigVersion(given, state.configVersion);
        }
    }

    /// @dev Checks one entry and records it, or emits why not. Returns whether it landed.
    function _record(SignedAttestation calldata a, bytes32 structHash, Cursor memory cursor) private returns (bool) {
        uint256 subject = a.subject;
        uint256 word = _gpus[a.gpuKey];
        RejectReason reason = _check(subject, word, cursor.now_);
        if (reason == RejectReason.None) reason = _checkAgent(a, structHash, cursor);
        if (reason != RejectReason.None) {
            emit AttestationRejected(a.gpuKey, reason);
            return false;
        }
        uint256 index;
        if (word == 0) {
            index = cursor.gpuCount++;
        } else {
            index = (word >> 64) & _U32;
        }
        // provider | index | measuredAt | expiresAt: the subject's layout, shifted by 32.
        _gpus[a.gpuKey] = ((subject >> 96) << 96) | (index << 64) | ((subject >> 32) & type(uint64).max);
        _emitAttested(a, uint32(index), cursor.quorum);
        return true;
    }

    /// @dev The agent's signature, then the registry (once per run of entries with the same
    /// provider and agent).
    function _checkAgent(SignedAttestation calldata a, bytes32 structHash, Cursor memory cursor)
        private
        view
        returns (RejectReason)
    {
        address agent = address(uint160(a.device >> 96));
        (address signer, ECDSA.RecoverError err,) =
            ECDSA.tryRecover(MessageHashUtils.toTypedDataHash(cursor.domainSeparator, structHash), a.r, a.vs);
        if (err != ECDSA.RecoverError.NoError || signer != agent) return RejectReason.InvalidAgentSignature;
        address provider = address(uint160(a.subject >> 96));
        if (provider != cursor.lastProvider || agent != cursor.lastAgent) {
            cursor.lastProvider = provider;
            cursor.lastAgent = agent;
            cursor.lastAuthorized = REGISTRY.isAuthorizedAgent(provider, agent);
        }
        return cursor.lastAuthorized ? RejectReason.None : RejectReason.UnauthorizedAgent;
    }

    /// @dev The checks that need no signature: expiry, clock skew, monotonic measuredAt.
    function _check(uint256 subject, uint256 word, uint256 now_) private pure returns (RejectReason) {
        uint256 measuredAt = (subject >> 64) & _U32;
        if ((subject >> 32) & _U32 <= now_) return RejectReason.Expired;
        if (measuredAt > now_ + MAX_CLOCK_SKEW) return RejectReason.MeasuredInFuture;
        if (word != 0 && measuredAt <= (word >> 32) & _U32) return RejectReason.StaleMeasurement;
        return RejectReason.None;
    }

    /// @dev Recovers each oracle signature; they must be strictly ascending current oracles, at
    /// least `threshold` of them. Returns the quorum word: configVersion << 224 | signers bitmap.
    function _checkQuorum(bytes32 digest, Signature[] calldata signatures, State memory state)
        private
        view
        returns (uint256 quorum)
    {
        uint256 count = signatures.length;
        if (count < state.threshold) revert AttestationOracleInsufficientSignatures(count, state.threshold);
        address previous;
        uint256 signers;
        for (uint256 i = 0; i < count; ++i) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signatures[i].r, signatures[i].vs);
            if (err != ECDSA.RecoverError.NoError) revert AttestationOracleInvalidSignature(i);
            if (signer <= previous) revert AttestationOracleUnsortedSigners(previous, signer);
            uint256 membership = _membership[signer];
            if (membership >> 8 != state.configVersion) revert AttestationOracleUnknownSigner(signer);
            signers |= 1 << (membership & 0xff);
            previous = signer;
        }
        return (uint256(state.configVersion) << 224) | signers;
    }

    /// @dev The EIP-712 struct hash of the `GpuAttestation` packed in `a`.
    function _structHash(SignedAttestation calldata a) private pure returns (bytes32 result) {
        bytes32 typehash = GPU_ATTESTATION_TYPEHASH;
        assembly ("memory-safe") {
            let subject := calldataload(add(a, 0x20))
            let device := calldataload(add(a, 0x40))
            let figures := calldataload(add(a, 0x80))
            let m := mload(0x40)
            mstore(m, typehash)
            mstore(add(m, 0x20), shr(96, subject)) // provider
            mstore(add(m, 0x40), shr(96, device)) // agent
            mstore(add(m, 0x60), calldataload(a)) // gpuKey
            mstore(add(m, 0x80), and(shr(80, device), 0xffff)) // vendorId
            mstore(add(m, 0xa0), calldataload(add(a, 0x60))) // model
            mstore(add(m, 0xc0), and(shr(16, device), 0xffffffffffffffff)) // memoryBytes
            mstore(add(m, 0xe0), and(shr(96, figures), 0xffffffff)) // fp32Gflops
            mstore(add(m, 0x100), and(shr(64, figures), 0xffffffff)) // fp16Gflops
            mstore(add(m, 0x120), and(shr(32, figures), 0xffffffff)) // memoryBandwidthGBps
            mstore(add(m, 0x140), and(figures, 0xffffffff)) // provenInt8Gops
            mstore(add(m, 0x160), calldataload(add(a, 0xa0))) // challenge
            mstore(add(m, 0x180), and(shr(64, subject), 0xffffffff)) // measuredAt
            mstore(add(m, 0x1a0), and(shr(32, subject), 0xffffffff)) // expiresAt
            mstore(add(m, 0x1c0), calldataload(add(a, 0xc0))) // capabilities
            result := keccak256(m, 0x1e0)
        }
    }

    /// @dev Emits {GpuAttested} from the packed words (in assembly: thirteen fields are more
    /// than the stack takes).
    function _emitAttested(SignedAttestation calldata a, uint32 index, uint256 quorum) private {
        bytes32 topic = GpuAttested.selector;
        assembly ("memory-safe") {
            let subject := calldataload(add(a, 0x20))
            let device := calldataload(add(a, 0x40))
            let m := mload(0x40)
            mstore(m, index)
            mstore(add(m, 0x20), and(shr(80, device), 0xffff)) // vendorId
            mstore(add(m, 0x40), calldataload(add(a, 0x60))) // model
            mstore(add(m, 0x60), and(shr(16, device), 0xffffffffffffffff)) // memoryBytes
            mstore(add(m, 0x80), and(calldataload(add(a, 0x80)), 0xffffffffffffffffffffffffffffffff)) // figures
            mstore(add(m, 0xa0), calldataload(add(a, 0xa0))) // challenge
            mstore(add(m, 0xc0), and(shr(64, subject), 0xffffffff)) // measuredAt
            mstore(add(m, 0xe0), and(shr(32, subject), 0xffffffff)) // expiresAt
            mstore(add(m, 0x100), calldataload(add(a, 0xc0))) // capabilities
            mstore(add(m, 0x120), quorum)
            log4(m, 0x140, topic, calldataload(a), shr(96, subject), shr(96, device))
        }
    }

    function _revoke(bytes32 gpuKey, uint256 word, bool byProvider) private {
        _gpus[gpuKey] = word & ~_U32;
        emit GpuRevoked(gpuKey, address(uint160(word >> 96)), uint32(word >> 32), byProvider);
    }
}
