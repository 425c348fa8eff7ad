"""``depin agent`` as an operator uses it, through the top-level CLI."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account
from eth_account.messages import encode_defunct
from replayed import FIXTURES

from agent.keystore import load_agent_key
from depin.capabilities import CapabilityDocument, document_hash
from depin.cli import main
from depin.crypto import to_hex

PASSWORD = "agent password 1"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(mix_stderr=False, env={"COLUMNS": "240"})


def replay(**files: str) -> list[str]:
    args: list[str] = []
    for backend, name in files.items():
        args += ["--replay", f"{backend.replace('_', '-')}={FIXTURES / name}.json"]
    return args


NO_GPU = replay(nvml="nvml_library_missing", amdsmi="amdsmi_no_device", xpu_smi="xpusmi_no_device")


def test_discover_json_on_a_host_without_gpu(
    runner: CliRunner, make_sysfs: Callable[..., Path]
) -> None:
    root = make_sysfs()
    result = runner.invoke(
        main, ["agent", "discover", "--json", *NO_GPU, "--sysfs-root", str(root)]
    )
    assert result.exit_code == 0, result.output + result.stderr
    data = json.loads(result.stdout)
    assert data["gpus"] == []
    reasons = {b["backend"]: (b["available"], b["reason"]) for b in data["backends"]}
    assert reasons["nvml"] == (False, "NVML: NVML Shared Library Not Found")
    assert reasons["amdsmi"] == (False, "amdsmi: AMDSMI error code 40")
    assert reasons["xpu-smi"] == (True, "xpu-smi lists no Intel GPU")
    assert reasons["sysfs"] == (
        True,
        "no display or 3D controller of a GPU vendor on the PCI bus",
    )


def test_discover_json_with_this_hosts_libraries(runner: CliRunner) -> None:
    """Whatever this machine has, discover exits 0 and every silent backend says why."""
    result = runner.invoke(main, ["agent", "discover", "--json"])
    assert result.exit_code == 0, result.output + result.stderr
    data = json.loads(result.stdout)
    assert [b["backend"] for b in data["backends"]] == ["nvml", "amdsmi", "xpu-smi", "sysfs"]
    for backend in data["backends"]:
        assert backend["reason"] or backend["devices"] > 0


def test_discover_table(runner: CliRunner, tmp_path: Path) -> None:
    args = ["agent", "discover", *replay(nvml="nvml_8x_h100_sxm"), "--sysfs-root", str(tmp_path)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("nvidia-h100-sxm5-80gb") == 8
    assert "backend nvml: 8 device(s)" in result.stdout
    assert "backend amdsmi:" in result.stdout


def test_discover_refuses_a_malformed_replay(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["agent", "discover", "--replay", "nvml"])
    assert result.exit_code == 2
    assert "expected BACKEND=FILE, got 'nvml'" in result.stderr
    result = runner.invoke(main, ["agent", "discover", "--replay", f"cuda={tmp_path}"])
    assert result.exit_code == 2
    assert "unknown backend 'cuda'; use nvml, amdsmi or xpu-smi" in result.stderr
    result = runner.invoke(main, ["agent", "discover", "--replay", f"nvml={tmp_path}/none.json"])
    assert result.exit_code == 1
    assert f"cannot read recording {tmp_path}/none.json" in result.stderr


def test_capabilities_prints_the_document_and_its_hash(runner: CliRunner, tmp_path: Path) -> None:
    args = [*replay(nvml="nvml_4x_a100_sxm4_80gb"), "--sysfs-root", str(tmp_path)]
    first = runner.invoke(main, ["agent", "capabilities", *args])
    assert first.exit_code == 0, first.stderr
    body = json.loads(first.stdout)
    document = CapabilityDocument.model_validate(body["document"])
    assert body["document_hash"] == to_hex(document_hash(document))
    assert [g.model for g in document.gpus] == ["nvidia-a100-sxm4-80gb"] * 4
    assert document.gpus[0].pcie.generation == 4 and document.host.cpu_cores
    again = runner.invoke(main, ["agent", "capabilities", *args])
    assert json.loads(again.stdout)["document_hash"] == body["document_hash"]


def test_capabilities_of_a_host_without_gpu_says_why(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["agent", "capabilities", *NO_GPU, "--sysfs-root", str(tmp_path)])
    assert result.exit_code == 1
    assert "no GPU found" in result.stderr and "NVML Shared Library Not Found" in result.stderr


def test_benchmark_json(runner: CliRunner) -> None:
    result = runner.invoke(main, ["agent", "benchmark", "--json", "--engine", "numpy"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["engine"] == "numpy"
    assert [r["name"] for r in data["results"]] == [
        "matmul_fp32",
        "matmul_fp16",
        "matmul_int8",
        "memory_bandwidth",
    ]
    for r in data["results"]:
        assert {"method", "size", "iterations", "median_s", "spread"} <= r.keys()


def test_watch_reports_nothing_on_a_steady_host(runner: CliRunner, tmp_path: Path) -> None:
    args = [
        "agent",
        "watch",
        "--json",
        "--count",
        "2",
        "--interval",
        "0",
        *replay(nvml="nvml_1x_rtx4090"),
        "--sysfs-root",
        str(tmp_path),
    ]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""


def test_init_prints_address_and_request(runner: CliRunner, tmp_path: Path) -> None:
    keystore = tmp_path / "k.json"
    out = tmp_path / "request.json"
    result = runner.invoke(
        main,
        [
            "agent",
            "init",
            "--keystore",
            str(keystore),
            "--ttl-days",
            "2",
            "--request-out",
            str(out),
        ],
        env={"DEPIN_AGENT_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 0, result.stderr
    request = json.loads(result.stdout)
    assert json.loads(out.read_text()) == request
    assert f"agent address: {request['agent']}" in result.stderr
    assert keystore.stat().st_mode & 0o777 == 0o600
    # a signature from the stored key recovers to the printed address
    account = load_agent_key(keystore, PASSWORD)
    message = encode_defunct(text="challenge")
    signature = account.sign_message(message).signature
    assert Account.recover_message(message, signature=signature) == request["agent"]
    assert 2 * 86400 - 60 <= request["expiresAt"] - int(keystore.stat().st_mtime) <= 2 * 86400


def test_init_refuses_to_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    keystore = tmp_path / "k.json"
    env = {"DEPIN_AGENT_PASSWORD": PASSWORD}
    assert (
        runner.invoke(main, ["agent", "init", "--keystore", str(keystore)], env=env).exit_code == 0
    )
    again = runner.invoke(main, ["agent", "init", "--keystore", str(keystore)], env=env)
    assert again.exit_code == 1
    assert f"an agent keystore already exists at {keystore}; pass --force" in again.stderr


def test_init_with_password_file_and_prompt(runner: CliRunner, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    os.chmod(secret, 0o600)
    keystore = tmp_path / "a.json"
    args = ["agent", "init", "--keystore", str(keystore), "--password-file", str(secret)]
    result = runner.invoke(main, args, env={"DEPIN_AGENT_PASSWORD": ""})
    assert result.exit_code == 0, result.stderr
    assert load_agent_key(keystore, PASSWORD).address == json.loads(result.stdout)["agent"]

    prompted = tmp_path / "b.json"
    result = runner.invoke(
        main,
        ["agent", "init", "--keystore", str(prompted)],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        env={"DEPIN_AGENT_PASSWORD": ""},
    )
    assert result.exit_code == 0, result.stderr
    assert load_agent_key(prompted, PASSWORD).address == json.loads(result.stdout)["agent"]


def test_init_refuses_a_readable_password_file(runner: CliRunner, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD)
    os.chmod(secret, 0o644)
    args = ["agent", "init", "--keystore", str(tmp_path / "k.json"), "--password-file", str(secret)]
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    assert "readable by group or others" in result.stderr
    assert not (tmp_path / "k.json").exists()


def test_agent_commands_number_cuda_devices_like_nvml(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    result = runner.invoke(main, ["agent", "benchmark", "--json", "--engine", "numpy"])
    assert result.exit_code == 0, result.stderr
    assert os.environ["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "FASTEST_FIRST")  # an operator's choice stands
    runner.invoke(main, ["agent", "benchmark", "--json", "--engine", "numpy"])
    assert os.environ["CUDA_DEVICE_ORDER"] == "FASTEST_FIRST"
