"""Every role's command ends bad input with one line that says what to do, never a traceback.

Each provider, agent, oracle and indexer subcommand (enumerated from the click groups) is run
with the bad input that applies to it: an unreachable RPC URL, a missing or unreadable file, a
malformed address, a wrong key store password. Each must exit non-zero with a last line that
starts with ``Error:``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from depin.chain import Anvil
from depin.cli import DepinGroup, explain, main
from depin.keys import create_keystore
from depin.registry import RegistryClient

ROLES = ("provider", "agent", "oracle", "indexer")
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: connection refused
GOOD = "0x00000000000000000000000000000000000000a1"
BAD_ADDRESS = "0xnot-an-address"
PASSWORD = "correct horse battery staple"
UNREACHABLE_DATABASE = "postgresql://nobody@127.0.0.1:9/none"


def _leaves() -> list[str]:
    ctx = click.Context(main)
    found: list[str] = []
    for role in ROLES:
        group = main.get_command(ctx, role)
        assert isinstance(group, click.Group), role
        found += [f"{role} {name}" for name in group.list_commands(ctx)]
    return found


class Files:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.keystore = root / "key.json"
        create_keystore(self.keystore, PASSWORD)
        self.password = self._secret("good.pass", PASSWORD)
        self.wrong_password = self._secret("wrong.pass", "not the password")
        self.not_json = root / "not.json"
        self.not_json.write_text("{ this is not json")
        self.not_sqlite = root / "not.sqlite"
        self.not_sqlite.write_text("plain text, not a database")
        self.missing = root / "missing" / "nothing.json"
        self.home = root / "home"
        self.home.mkdir()

    def _secret(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text + "\n")
        path.chmod(0o600)
        return path


def _cases(f: Files) -> dict[str, list[tuple[str, list[str]]]]:
    """For each subcommand, the bad inputs that apply to it: (what is wrong, arguments)."""
    signer = ["--keystore", str(f.keystore), "--password-file", str(f.password)]
    wrong = ["--keystore", str(f.keystore), "--password-file", str(f.wrong_password)]
    rpc = ["--rpc-url", UNREACHABLE]
    agent = ["--provider", GOOD, "--oracle", UNREACHABLE, "--once"]
    return {
        "provider authorize-agent": [
            ("unreachable node", [*rpc, *signer, GOOD]),
            ("malformed address", [*rpc, *signer, BAD_ADDRESS]),
            ("unreadable request", [*rpc, *signer, "--request", str(f.not_json)]),
        ],
        "provider deregister": [
            ("unreachable node", [*rpc, *signer]),
            ("malformed address", [*rpc, "--address", BAD_ADDRESS, "--typed-data-out", "-"]),
        ],
        "provider register": [
            ("unreachable node", [*rpc, *signer, "--name", "GPUs"]),
            ("missing key store", [*rpc, "--keystore", str(f.missing), "--name", "GPUs"]),
        ],
        "provider revoke-agent": [
            ("unreachable node", [*rpc, *signer, GOOD]),
            ("malformed address", [*rpc, *signer, BAD_ADDRESS]),
        ],
        "provider show": [
            ("unreachable node", [*rpc, GOOD]),
            ("malformed address", [*rpc, BAD_ADDRESS]),
        ],
        "provider submit": [
            ("missing file", [*rpc, str(f.missing), "--signature", "0x00"]),
            ("not JSON", [*rpc, str(f.not_json), "--signature", "0x00"]),
        ],
        "provider update": [
            ("unreachable node", [*rpc, *signer, "--name", "GPUs"]),
        ],
        "agent benchmark": [("unknown engine", ["--engine", "abacus"])],
        "agent capabilities": [
            ("missing replay", ["--replay", str(f.missing)]),
            ("malformed replay", ["--replay", "nvml"]),
        ],
        "agent discover": [
            ("missing replay", ["--replay", str(f.missing)]),
        ],
        "agent init": [
            (
                "missing password file",
                ["--keystore", str(f.root / "new.json"), "--password-file", str(f.missing)],
            ),
            (
                "key store exists",
                ["--keystore", str(f.keystore), "--password-file", str(f.password)],
            ),
        ],
        "agent run": [
            ("unreachable node", [*signer, *agent, *rpc]),
            ("wrong password", [*wrong, *agent, *rpc]),
            (
                "malformed address",
                [*signer, *rpc, "--provider", BAD_ADDRESS, "--oracle", UNREACHABLE],
            ),
            ("missing key store", ["--keystore", str(f.missing), *agent, *rpc]),
        ],
        "agent watch": [("missing replay", ["--replay", str(f.missing), "--count", "1"])],
        "oracle init": [("dev index out of range", ["--name", "x", "--dev-index", "999"])],
        "oracle serve": [
            ("missing key store", ["--name", "nobody", "--port", "0"]),
            ("unreachable node", ["--name", "x", "--port", "0"]),
        ],
        "indexer backup": [("unwritable path", [str(f.not_json / "inside" / "backup.db")])],
        "indexer migrate": [("unreachable database", [])],  # with DATABASE_ENV below
        "indexer rebuild": [("unreachable node", ["--no-progress"])],
        "indexer restore": [
            ("missing file", [str(f.missing)]),
            ("not a database", [str(f.not_sqlite)]),
        ],
        "indexer run": [("unreachable node", ["--no-follow", "--no-progress"])],
        "indexer status": [("not migrated", [])],
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("cli-errors"))


@pytest.fixture
def env(files: Files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    values = {
        "DEPIN_HOME": str(tmp_path / "cli-home"),
        "DEPIN_RPC_URL": UNREACHABLE,
        "DEPIN_RPC_MAX_WAIT": "1",
        "DEPIN_INDEXER_RETRY_GIVE_UP_AFTER": "1",
        "DEPIN_INDEXER_METRICS_PORT": "0",
        "DEPIN_ORACLE_METRICS_PORT": "0",
        "DEPIN_PASSWORD": "",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DEPIN_DEBUG", raising=False)
    (tmp_path / "cli-home").mkdir()
    yield values


def _last_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def test_every_subcommand_has_bad_input_cases(files: Files) -> None:
    assert sorted(_cases(files)) == sorted(_leaves())


@pytest.mark.parametrize("command", _leaves())
def test_bad_input_ends_in_one_error_line(
    command: str, files: Files, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if command == "indexer migrate":
        monkeypatch.setenv("DEPIN_INDEXER_DATABASE_URL", UNREACHABLE_DATABASE)
    runner = CliRunner(mix_stderr=True)
    if command == "oracle serve":  # a key store, so that the node is what is missing
        assert runner.invoke(main, ["oracle", "init", "--name", "x"]).exit_code == 0
    for what, args in _cases(files)[command]:
        result = runner.invoke(main, [*command.split(), *args], catch_exceptions=False)
        shown = f"{command} ({what}) said:\n{result.output}"
        assert result.exit_code != 0, shown
        assert "Traceback" not in result.output, shown
        assert _last_line(result.output).startswith("Error:"), shown


SIGNING = {
    "authorize-agent": [GOOD],
    "deregister": [],
    "register": ["--name", "GPUs"],
    "revoke-agent": [GOOD],
    "update": ["--name", "GPUs"],
}


@pytest.mark.parametrize("command", sorted(SIGNING))
def test_a_wrong_password_on_a_live_chain_is_one_line(
    command: str,
    files: Files,
    env: dict[str, str],
    registry: RegistryClient,
    anvil: Anvil,
    home: Path,
) -> None:
    args = ["--rpc-url", anvil.rpc_url, "--home", str(home)]
    args += ["--keystore", str(files.keystore), "--password-file", str(files.wrong_password)]
    result = CliRunner(mix_stderr=True).invoke(
        main, ["provider", command, *args, *SIGNING[command]], catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert _last_line(result.output).startswith("Error: wrong password"), result.output


def test_the_installed_command_prints_no_traceback(files: Files, tmp_path: Path) -> None:
    depin = str(Path(sys.executable).with_name("depin"))
    env = {
        **os.environ,
        "DEPIN_HOME": str(tmp_path),
        "DEPIN_RPC_MAX_WAIT": "1",
        "DEPIN_PASSWORD": "",
    }
    env.pop("DEPIN_DEBUG", None)
    done = subprocess.run(
        [depin, "provider", "show", "--rpc-url", UNREACHABLE, GOOD],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert _last_line(done.stderr).startswith("Error:"), done.stderr
    assert UNREACHABLE in done.stderr


# --------------------------------------------------------------------------- the handler itself


def _group_raising(error: BaseException) -> click.Group:
    @click.group(cls=DepinGroup)
    def group() -> None:
        pass

    @group.command()
    def boom() -> None:
        raise error

    return group


def test_an_unexpected_error_is_named_with_how_to_see_the_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DEPIN_DEBUG", raising=False)
    result = CliRunner().invoke(_group_raising(RuntimeError("the flux\ncapacitor")), ["boom"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: RuntimeError: the flux capacitor (an unexpected error; run again with "
        "DEPIN_DEBUG=1 to see the traceback)"
    ]


def test_depin_debug_lets_the_traceback_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPIN_DEBUG", "1")
    result = CliRunner().invoke(_group_raising(RuntimeError("the flux capacitor")), ["boom"])
    assert isinstance(result.exception, RuntimeError)


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (FileNotFoundError(2, "No such file", "/srv/x.json"), "no such file or folder: /srv/x"),
        (PermissionError(13, "Permission denied", "/srv/x.json"), "permission denied: /srv/x"),
        (IsADirectoryError(21, "Is a directory", "/srv"), "/srv is a folder"),
        (ConnectionRefusedError(111, "Connection refused"), "cannot reach the node"),
        (ValueError("MAC mismatch"), "wrong password for the key store"),
        (ValueError("Unknown format '0xzz', attempted to normalize to '0xzz'"), "RuntimeError"),
    ],
)
def test_common_outside_errors_become_a_sentence(error: Exception, says: str) -> None:
    if says == "RuntimeError":  # not recognised: named, with the debug hint
        assert "ValueError" in explain(error) and "DEPIN_DEBUG=1" in explain(error)
        return
    assert says in explain(error)


def test_an_unreachable_node_is_found_under_a_wrapping_error() -> None:
    class ConnectionError(Exception):  # the requests/web3 name
        pass

    try:
        try:
            raise ConnectionError("HTTPConnectionPool(host='10.0.0.7', port=8545): refused")
        except ConnectionError as inner:
            raise RuntimeError("eth_chainId failed") from inner
    except RuntimeError as outer:
        sentence = explain(outer)
    assert sentence.startswith("cannot reach the node or service at 10.0.0.7:8545")
    assert "--rpc-url" in sentence
