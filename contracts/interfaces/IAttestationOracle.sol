// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title IAttestationOracle
/// @notice On-chain anchor of GPU attestations: an agent signs what it measured about each GPU
/// (EIP-712 `GpuAttestation`), t of N oracles co-sign the digest of a whole batch
/// (`AttestationBatch`), and anyone may submit the batch. The contract re-verifies every agent
/// signature, asks the ProviderRegistry whether the agent may sign for its provider, keeps one
/// storage word per GPU and emits every figure in `GpuAttested`.
/// @dev Calldata is packed into words (see {SignedAttestation}); the EIP-712 type the agent signs
/// lists each field on its own, so a signer never signs packed bytes. Signatures are compact
/// (EIP-2098: r and yParity‖s). Oracle signatures are sorted by signer address, ascending.
interface IAttestationOracle {
    /// @notice One agent-signed attestation, packed into nine words.
    /// @dev Layouts, most significant bits first:
    /// - `subject`: provider (160) | measuredAt (32) | expiresAt (32) | zero (32)
    /// - `device`:  agent (160) | vendorId (16) | memoryBytes (64) | zero (16)
    /// - `figures`: zero (128) | fp32Gflops (32) | fp16Gflops (32) | memoryBandwidthGBps (32) |
    ///   provenInt8Gops (32)
    /// The first three figures are the agent's own benchmark; `provenInt8Gops` is the int8
    /// throughput the oracles verified under their proof-of-compute challenge. `capabilities` is
    /// the keccak256 of the host's capability document in RFC 8785 bytes (zero: no document).
    struct SignedAttestation {
        bytes32 gpuKey;
        uint256 subject;
        uint256 device;
        bytes32 model;
        uint256 figures;
        bytes32 challenge;
        bytes32 capabilities;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice A compact (EIP-2098) secp256k1 signature.
    /// @notice One epoch's liveness, three bitmaps over GPU indexes (bit `i`: byte i / 8, mask
    /// 0x80 >> i % 8). `online`: the GPU's agent sent a signed heartbeat in the epoch.
    /// `available`: no compute process held it. `healthy`: no uncorrectable ECC error, pending
    /// retirement, XID error or throttling past the threshold. `available` and `healthy` are read
    /// only where `online` is set; trailing zero bytes may be left out of each.
    struct Liveness {
        bytes online;
        bytes available;
        bytes healthy;
    }

    struct Signature {
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Why an entry of a batch was skipped (the rest of the batch still lands).
    enum RejectReason {
        None,
        Expired,
        MeasuredInFuture,
        StaleMeasurement,
        InvalidAgentSignature,
        UnauthorizedAgent
    }

    /// @notice The latest attestation of a GPU, unpacked from its storage word.
    struct GpuRecord {
        address provider;
        uint32 index;
        uint32 measuredAt;
        uint32 expiresAt;
    }

    // ---------------------------------------------------------------- errors (EIP-6093 style)

    /// @notice The batch was signed for `given` but the current oracle config is `current`.
    error AttestationOracleWrongConfigVersion(uint32 given, uint32 current);
    /// @notice A signature recovers to `signer`, which is not an oracle of the current config.
    error AttestationOracleUnknownSigner(address signer);
    /// @notice Oracle signatures must be sorted by signer, strictly ascending: `signer` follows
    /// `previous` (a duplicate signature shows up here).
    error AttestationOracleUnsortedSigners(address previous, address signer);
    /// @notice Only `count` valid oracle signatures where `threshold` are needed.
    error AttestationOracleInsufficientSignatures(uint256 count, uint256 threshold);
    /// @notice An oracle signature does not recover at all (bad r or s).
    error AttestationOracleInvalidSignature(uint256 position);
    /// @notice The batch has no entries.
    error AttestationOracleEmptyBatch();
    /// @notice An oracle config of `count` oracles with threshold `threshold` is not allowed.
    error AttestationOracleInvalidConfig(uint256 count, uint256 threshold);
    /// @notice `oracle` is the zero address or listed twice.
    error AttestationOracleInvalidOracle(address oracle);
    /// @notice Liveness for `epoch` is not after the last recorded epoch `last`, or is ahead
    /// of the current epoch `current`.
    error AttestationOracleInvalidEpoch(uint64 epoch, uint64 last, uint64 current);
    /// @notice A liveness bitmap has `length` bytes but only `max` cover attested GPUs.
    error AttestationOracleBitmapTooLong(uint256 length, uint256 max);
    /// @notice No attestation of `gpuKey` is recorded.
    error AttestationOracleUnknownGpu(bytes32 gpuKey);
    /// @notice `caller` is not the provider of `gpuKey`'s latest attestation.
    error AttestationOracleNotGpuProvider(bytes32 gpuKey, address caller);
    /// @notice The revocation names attestation `measuredAt` but the latest is `latest`.
    error AttestationOracleRevocationMismatch(bytes32 gpuKey, uint32 measuredAt, uint32 latest);

    // ---------------------------------------------------------------- events

    /// @notice The admin set oracle config `version`: `oracles` (a signer's bit in `signers`
    /// bitmaps is its position here) and the `threshold` of signatures needed.
    event OracleConfigSet(uint32 indexed version, address[] oracles, uint8 threshold);

    /// @notice `gpuKey` was attested by `agent` for `provider`, vouched for by the oracles whose
    /// bits are set in `signers` under config `configVersion`. `index` is the GPU's position in
    /// the liveness bitmaps, assigned at its first attestation. `capabilities` is the keccak256 of
    /// the host's capability document (RFC 8785 bytes), zero when the agent sent none.
    event GpuAttested(
        bytes32 indexed gpuKey,
        address indexed provider,
        address indexed agent,
        uint32 index,
        uint16 vendorId,
        bytes32 model,
        uint64 memoryBytes,
        uint256 figures,
        bytes32 challenge,
        uint32 measuredAt,
        uint32 expiresAt,
        bytes32 capabilities,
        uint256 quorum
    );

    /// @notice An entry for `gpuKey` was skipped for `reason`.
    event AttestationRejected(bytes32 indexed gpuKey, RejectReason reason);

    /// @notice A batch with oracle digest `batchDigest` was processed: `accepted` entries landed,
    /// `rejected` were skipped. `quorum` is configVersion (high 32 bits) | signers bitmap.
    event AttestationBatchSubmitted(bytes32 indexed batchDigest, uint256 quorum, uint256 accepted, uint256 rejected);

    /// @notice The attestation of `gpuKey` measured at `measuredAt` was revoked, by its provider
    /// (`byProvider`) or by an oracle quorum.
    event GpuRevoked(bytes32 indexed gpuKey, address indexed provider, uint32 measuredAt, bool byProvider);

    /// @notice Liveness of `epoch`, co-signed by `quorum`: bit `i` of `online` (byte i / 8, mask
    /// 0x80 >> i % 8) is set when the GPU with index `i` was seen online; the same bit of
    /// `available` and `healthy` says it was free and healthy (see {Liveness}). Epochs with no
    /// record are the epochs the oracles could not agree on: a gap, never a later block.
    event LivenessRecorded(uint64 indexed epoch, uint256 quorum, bytes online, bytes available, bytes healthy);

    // ---------------------------------------------------------------- admin

    /// @notice Replaces the oracle set and threshold; bumps {configVersion}.
    function setOracleConfig(address[] calldata oracles, uint8 threshold) external;

    // ---------------------------------------------------------------- oracles

    /// @notice Records a batch co-signed by t oracles over `AttestationBatch(configVersion, ...)`.
    /// Entries that fail a check are skipped with {AttestationRejected}.
    /// @return accepted the number of entries that landed.
    function submit(
        uint32 configVersion,
        SignedAttestation[] calldata attestations,
        Signature[] calldata oracleSignatures
    ) external returns (uint256 accepted);

    /// @notice Records the liveness of `epoch`, co-signed by t oracles over
    /// `LivenessReport(configVersion, epoch, online, available, healthy)`. Any epoch after the
    /// last recorded one may be recorded: an epoch without a quorum never blocks a later one.
    function recordLiveness(
        uint32 configVersion,
        uint64 epoch,
        Liveness calldata liveness,
        Signature[] calldata oracleSignatures
    ) external;

    /// @notice Revokes the attestation of `gpuKey` measured at `measuredAt`, co-signed by t
    /// oracles over `GpuRevocation(configVersion, gpuKey, measuredAt)`.
    function revoke(
        uint32 configVersion,
        bytes32 gpuKey,
        uint32 measuredAt,
        Signature[] calldata oracleSignatures
    ) external;

    /// @notice The provider of `gpuKey`'s latest attestation retires the GPU.
    function retire(bytes32 gpuKey) external;

    // ---------------------------------------------------------------- views

    /// @notice Whether `gpuKey` has an unexpired, unrevoked attestation.
    function isVerified(bytes32 gpuKey) external view returns (bool);

    /// @notice The latest attestation of `gpuKey` (all zero if none).
    function gpuRecord(bytes32 gpuKey) external view returns (GpuRecord memory);

    /// @notice The current oracle config version (0 before the first {setOracleConfig}).
    function configVersion() external view returns (uint32);

    /// @notice The current oracles and threshold.
    function oracleConfig() external view returns (uint32 version, address[] memory oracles, uint8 threshold);

    /// @notice How many GPUs have been attested (the next GPU index).
    function gpuCount() external view returns (uint32);

    /// @notice The last epoch whose liveness was recorded.
    function lastLivenessEpoch() external view returns (uint64);
}
