"""`depin provider` as a provider uses it: a key store on disk, or an external wallet's JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from eth_account import Account
from web3 import Web3

from depin.chain import ANVIL_KEYS, Anvil
from depin.cli import main
from depin.keys import create_keystore
from depin.registry import RegistryClient, Status

RELAYER = Account.from_key(ANVIL_KEYS[1]).address  # the local default relayer
DEPIN = str(Path(sys.executable).with_name("depin"))


def _keystore(tmp_path: Path, w3: Web3, name: str = "provider") -> tuple[Path, Path, str]:
    password_file = tmp_path / f"{name}.pass"
    password_file.write_text("correct horse battery staple\n")
    password_file.chmod(0o600)
    path = tmp_path / f"{name}.json"
    account = create_keystore(path, "correct horse battery staple")
    w3.provider.make_request("anvil_setBalance", [account.address, hex(10**19)])
    return path, password_file, account.address


def _provider(anvil: Anvil, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``depin provider <args>`` run as a provider runs it: the installed command, in a process
    of its own, its node and home from the environment."""
    env = {**os.environ, "DEPIN_RPC_URL": anvil.rpc_url, "DEPIN_HOME": str(home)}
    return subprocess.run(
        [DEPIN, "provider", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_register_and_authorize_with_keystore_subprocess(
    registry: RegistryClient, anvil: Anvil, w3: Web3, home: Path, tmp_path: Path
) -> None:
    keystore, password_file, address = _keystore(tmp_path, w3)
    common = ["--keystore", str(keystore), "--password-file", str(password_file)]
    done = _provider(anvil, home, "register", "--name", "Keystore GPUs", "--region", "eu", *common)
    assert done.returncode == 0, done.stderr
    assert "done in block" in done.stdout
    assert registry.record(address).status is Status.ACTIVE

    agent = Account.create().address
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps({"agent": agent, "expiresAt": w3.eth.get_block("latest")["timestamp"] + 86400})
    )
    done = _provider(
        anvil, home, "authorize-agent", "--request", str(request), "--gasless", *common
    )
    assert done.returncode == 0, done.stderr
    assert registry.is_authorized_agent(address, agent)

    done = _provider(anvil, home, "show", address, "--json")
    shown = json.loads(done.stdout)
    assert shown["status"] == "active" and shown["profile"]["name"] == "Keystore GPUs"
    assert shown["agents"] == [
        {
            "agent": agent,
            "expiresAt": json.loads(request.read_text())["expiresAt"],
            "authorized": True,
        }
    ]


def test_wrong_password_refused_with_sentence(
    registry: RegistryClient, anvil: Anvil, w3: Web3, home: Path, tmp_path: Path
) -> None:
    keystore, _, _ = _keystore(tmp_path, w3)
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not the password")
    wrong.chmod(0o600)
    result = CliRunner().invoke(
        main,
        [
            "provider",
            "register",
            "--name",
            "x",
            "--rpc-url",
            anvil.rpc_url,
            "--home",
            str(home),
            "--keystore",
            str(keystore),
            "--password-file",
            str(wrong),
        ],
    )
    assert result.exit_code == 1
    assert "wrong password for key store" in result.output


def _invoke(args: list[str]) -> Any:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result


def test_external_wallet_typed_data_round_trip(
    registry: RegistryClient, anvil: Anvil, home: Path, tmp_path: Path
) -> None:
    wallet = Account.create()  # stands for MetaMask / a hardware wallet: it only signs JSON
    chain = ["--rpc-url", anvil.rpc_url, "--home", str(home)]
    typed_path = tmp_path / "registration.json"
    result = _invoke(
        [
            "provider",
            "register",
            *chain,
            "--name",
            "Wallet GPUs",
            "--address",
            wallet.address,
            "--typed-data-out",
            str(typed_path),
        ]
    )
    assert result.exit_code == 0, result.output
    typed = json.loads(typed_path.read_text())
    assert typed["primaryType"] == "Registration"
    assert typed["domain"]["verifyingContract"] == registry.address
    signature = Account.sign_typed_data(wallet.key, full_message=typed).signature.hex()

    result = _invoke(
        [
            "provider",
            "submit",
            *chain,
            str(typed_path),
            "--signature",
            "0x" + signature.removeprefix("0x"),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Registration relayed" in result.output
    assert registry.record(wallet.address).status is Status.ACTIVE


def _registration_typed_data(
    chain: list[str], address: str, tmp_path: Path
) -> tuple[Path, dict[str, Any]]:
    """What `depin provider register --typed-data-out` writes for an external wallet."""
    typed_path = tmp_path / "registration.json"
    _invoke(
        ["provider", "register", *chain, "--name", "W", "--address", address,
         "--typed-data-out", str(typed_path)]
    )  # fmt: skip
    return typed_path, json.loads(typed_path.read_text())


def test_submit_refuses_signature_of_another_wallet_without_sending(
    registry: RegistryClient, anvil: Anvil, home: Path, tmp_path: Path, w3: Web3
) -> None:
    wallet, impostor = Account.create(), Account.create()
    chain = ["--rpc-url", anvil.rpc_url, "--home", str(home)]
    typed_path, typed = _registration_typed_data(chain, wallet.address, tmp_path)
    signature = Account.sign_typed_data(impostor.key, full_message=typed).signature.hex()
    relayer_nonce = w3.eth.get_transaction_count(RELAYER)
    result = CliRunner().invoke(
        main, ["provider", "submit", *chain, str(typed_path), "--signature", signature]
    )
    assert result.exit_code == 1
    assert f"not the provider {wallet.address}" in result.output
    assert w3.eth.get_transaction_count(RELAYER) == relayer_nonce


def test_submit_refuses_typed_data_for_another_registry(
    registry: RegistryClient, anvil: Anvil, home: Path, tmp_path: Path
) -> None:
    wallet = Account.create()
    chain = ["--rpc-url", anvil.rpc_url, "--home", str(home)]
    typed_path, typed = _registration_typed_data(chain, wallet.address, tmp_path)
    typed["domain"]["chainId"] = 1
    typed_path.write_text(json.dumps(typed))
    signature = Account.sign_typed_data(wallet.key, full_message=typed).signature.hex()
    result = CliRunner().invoke(
        main, ["provider", "submit", *chain, str(typed_path), "--signature", signature]
    )
    assert result.exit_code == 1
    assert "not this registry" in result.output


def test_missing_deployment_is_a_sentence(anvil: Anvil, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["provider", "show", "0x" + "11" * 20, "--rpc-url", anvil.rpc_url, "--home", str(tmp_path)],
    )
    assert result.exit_code == 1
    assert "no ProviderRegistry deployment recorded for chain 31337" in result.output


def test_register_without_eth_says_to_fund_or_go_gasless(
    registry: RegistryClient, anvil: Anvil, w3: Web3, home: Path, tmp_path: Path
) -> None:
    keystore, password_file, address = _keystore(tmp_path, w3, "empty")
    w3.provider.make_request("anvil_setBalance", [address, "0x0"])
    common = ["--keystore", str(keystore), "--password-file", str(password_file)]
    done = _provider(anvil, home, "register", "--name", "No ETH", "--region", "eu", *common)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    (line,) = [x for x in done.stderr.splitlines() if x.strip()]
    assert line.startswith("Error: ") and address in line and "--gasless" in line
    assert registry.record(address).status is not Status.ACTIVE
