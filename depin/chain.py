"""Talking to the chain: a local anvil node, web3 connections, and transactions that fail with
the contract's named error instead of an opaque revert."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from depin.artifacts import canonical_type
from depin.errors import (
    ChainError,
    ContractRevertError,
    DepinError,
    InsufficientFundsError,
    RetryInterruptedError,
    ToolchainError,
)
from depin.rpc import RetryingHTTPProvider, RetryPolicy, require_chain_id
from depin.toolchain import anvil_path

# anvil's default mnemonic accounts (public test keys; never use them on a real network).
ANVIL_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Anvil:
    """An anvil node in a child process (the binary from the npm package)."""

    port: int = 0
    chain_id: int = 31337
    block_time: float | None = None
    state_path: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    #: where the node's own output goes (a temporary file when not given): a file, never a pipe
    #: nobody reads, which would stall the node once its buffer filled
    log_path: Path | None = None
    #: how many past blocks' states the node may keep on disk (beyond the ones it holds in
    #: memory): unbounded, a node fed for a quarter of an hour wrote some 20 GB of them
    persisted_states: int = 256
    process: subprocess.Popen[bytes] | None = None
    #: a folder of this node's own (its past states, and its log unless one is given), removed
    #: when it stops
    scratch: Path | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> Anvil:
        if not self.port:
            self.port = free_port()
        args = [
            str(anvil_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--hardfork",
            "prague",
            "--silent",
        ]
        if self.block_time:
            args += ["--block-time", str(self.block_time)]
        if self.state_path is not None:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            args += ["--state", str(self.state_path)]
        if self.scratch is None:
            self.scratch = Path(tempfile.mkdtemp(prefix=f"anvil-{self.port}-"))
        args += ["--cache-path", str(self.scratch / "states")]
        args += ["--max-persisted-states", str(self.persisted_states)]
        args += self.extra_args
        if self.log_path is None:
            self.log_path = self.scratch / "anvil.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        w3 = Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 2}))
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ToolchainError(
                    f"anvil exited with {self.process.returncode}: {self.log_tail()}"
                )
            with contextlib.suppress(Exception):
                if w3.eth.chain_id == self.chain_id:
                    return self
            time.sleep(0.05)
        self.stop()
        raise ToolchainError(f"anvil did not answer on {self.rpc_url} within {timeout}s")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, limit: int = 4000) -> str:
        """The end of what the node wrote (empty when it wrote nothing)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(max(0, self.log_path.stat().st_size - limit))
            return log.read().decode(errors="replace").strip()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.scratch is not None:
            if self.log_path is not None and self.log_path.is_relative_to(self.scratch):
                self.log_path = None
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


@contextlib.contextmanager
def running_anvil(**kwargs: Any) -> Iterator[Anvil]:
    node = Anvil(**kwargs).start()
    try:
        yield node
    finally:
        node.stop()


def connect(
    rpc_url: str,
    timeout: float = 30.0,
    *,
    chain_id: int | None = None,
    policy: RetryPolicy | None = None,
    stop: threading.Event | None = None,
    probe_wait: float = 15.0,
) -> Web3:
    """A web3 connection that retries what heals (:mod:`depin.rpc`).

    The first contact gets ``probe_wait`` seconds of retries: a node that never answered is
    more likely a wrong URL than a hiccup, so it raises :class:`ChainError` soon. After that,
    calls are retried by ``policy`` (``DEPIN_RPC_MAX_WAIT`` seconds by default). With
    ``chain_id``, a node on another chain raises :class:`~depin.errors.WrongChainError`.
    """
    provider = RetryingHTTPProvider(
        rpc_url, request_kwargs={"timeout": timeout}, policy=policy, stop=stop
    )
    w3 = Web3(provider)
    configured = provider.retrier.policy
    provider.retrier.policy = replace(
        configured, give_up_after=min(configured.give_up_after, probe_wait)
    )
    try:
        actual = w3.eth.chain_id
    except DepinError as exc:
        if isinstance(exc, RetryInterruptedError):
            raise
        raise ChainError(f"no Ethereum node answers at {rpc_url}: {exc}") from exc
    except Exception as exc:
        raise ChainError(f"no Ethereum node answers at {rpc_url}: {exc}") from exc
    finally:
        provider.retrier.policy = configured
    require_chain_id(actual, chain_id, "the configuration")
    return w3


def error_selectors(abi: list[dict[str, Any]]) -> dict[bytes, dict[str, Any]]:
    """Custom error selector -> ABI entry."""
    table: dict[bytes, dict[str, Any]] = {}
    for entry in abi:
        if entry.get("type") == "error":
            signature = f"{entry['name']}({','.join(canonical_type(i) for i in entry['inputs'])})"
            table[keccak(text=signature)[:4]] = entry
    return table


def decode_revert(abi: list[dict[str, Any]], data: str | bytes) -> ContractRevertError | None:
    """Decodes revert data into the contract's named error, if the ABI declares it."""
    from eth_abi import decode

    if isinstance(data, bytes):
        raw = data
    else:
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    if len(raw) < 4:
        return None
    entry = error_selectors(abi).get(raw[:4])
    if entry is None:
        return None
    types = [canonical_type(i) for i in entry["inputs"]]
    values = decode(types, raw[4:])
    args = {i["name"]: v for i, v in zip(entry["inputs"], values, strict=True)}
    return ContractRevertError(str(entry["name"]), args)


def _insufficient_funds(exc: Exception) -> bool:
    """Whether the node refused a call or transaction for the sender's balance (geth, anvil
    and most providers say "insufficient funds")."""
    return "insufficient funds" in str(exc).lower()


def translate_error(abi: list[dict[str, Any]], exc: Exception) -> Exception:
    """Turns web3's revert exceptions into :class:`ContractRevertError` where possible."""
    data: Any = None
    if isinstance(exc, ContractCustomError):
        data = exc.data if isinstance(exc.data, str) else exc.args[0]
    elif isinstance(exc, ContractLogicError):
        data = exc.data
    if isinstance(data, str) and data.startswith("0x"):
        decoded = decode_revert(abi, data)
        if decoded is not None:
            return decoded
    if isinstance(exc, ContractLogicError):
        return ChainError(f"the transaction would revert: {exc}")
    return exc


def transact(
    w3: Web3,
    account: LocalAccount,
    call: ContractFunction,
    *,
    gas: int | None = None,
    timeout: float = 60.0,
) -> TxReceipt:
    """Signs and sends ``call`` from ``account`` and waits for its receipt.

    Gas is estimated first, so a call that would revert fails here with the contract's named
    error (:class:`ContractRevertError`) and no transaction is sent.
    """
    abi: list[dict[str, Any]] = list(call.contract_abi)  # type: ignore[arg-type]
    try:
        estimated = gas or int(call.estimate_gas({"from": account.address}) * 1.2) + 10_000
        tx = call.build_transaction(
            {
                "from": account.address,
                "nonce": w3.eth.get_transaction_count(account.address, "pending"),
                "gas": estimated,
                "chainId": w3.eth.chain_id,
            }
        )
    except Exception as exc:
        if _insufficient_funds(exc):
            raise InsufficientFundsError(account.address) from exc
        raise translate_error(abi, exc) from exc
    signed = account.sign_transaction(tx)  # type: ignore[arg-type]
    try:
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    except Exception as exc:
        if _insufficient_funds(exc):
            raise InsufficientFundsError(account.address) from exc
        raise
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)
    if receipt["status"] != 1:
        raise ChainError(f"transaction {tx_hash.hex()} reverted in block {receipt['blockNumber']}")
    return receipt


def deploy(
    w3: Web3, account: LocalAccount, abi: list[dict[str, Any]], bytecode: str, *args: Any
) -> TxReceipt:
    """Deploys a contract from ``account``; returns the receipt (``contractAddress`` set)."""
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    tx = factory.constructor(*args).build_transaction(
        {
            "from": account.address,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "chainId": w3.eth.chain_id,
        }
    )
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.05)
    if receipt["status"] != 1 or not receipt.get("contractAddress"):
        raise ChainError(f"deployment transaction {tx_hash.hex()} failed")
    return receipt


def replacement(
    w3: Web3, raw: bytes, *, max_fee: int | None = None, cancel: bool = False
) -> dict[str, Any] | None:
    """The transaction to sign in place of the signed EIP-1559 transaction ``raw``, which has
    stayed unmined: the same nonce, both fees raised at least 12.5 % (nodes take a replacement
    from 10 %) and to what the latest block asks. ``cancel``: a 0-value transfer to the sender's
    own address instead of the call, to free the nonce of a call that would now revert. None if
    the fee would exceed ``max_fee`` (wei per gas)."""
    from eth_account.typed_transactions.typed_transaction import TypedTransaction
    from hexbytes import HexBytes

    old = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    base = int(w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
    tip = max(_bump(int(old["maxPriorityFeePerGas"])), int(w3.eth.max_priority_fee))
    fee = max(_bump(int(old["maxFeePerGas"])), 2 * base + tip)
    if max_fee is not None and fee > max_fee:
        return None
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": int(old["chainId"]),
        "nonce": int(old["nonce"]),
        "maxFeePerGas": fee,
        "maxPriorityFeePerGas": min(tip, fee),
    }
    if cancel:
        sender = Account.recover_transaction(raw)
        return {**tx, "to": sender, "value": 0, "data": b"", "gas": 21_000}
    return {
        **tx,
        "to": Web3.to_checksum_address(old["to"]),
        "value": int(old["value"]),
        "data": HexBytes(old["data"]),
        "gas": int(old["gas"]),
        "accessList": old.get("accessList", ()),
    }


def _bump(value: int) -> int:
    return value + value // 8 + 1
