"""depin.logs: one JSON object a line with the fields every role's lines carry, chosen by
``--log-format`` or ``DEPIN_LOG_FORMAT``; text lines otherwise."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from depin import logs


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger, as it was before the test."""
    logger = logging.getLogger()
    saved = logger.handlers[:], logger.level
    yield logger
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_json_line_parses_and_carries_the_fields(root: logging.Logger) -> None:
    stream = io.StringIO()
    assert logs.setup("oracle", "json", stream=stream, fields={"node": "o1"}) == "json"
    log = logging.getLogger("depin.oracle")
    log.info("submit tx %s carries %d entries", "0xab", 3)
    log.warning("peer unreachable", extra={"peer": "http://o2", "attempt": 2})
    try:
        raise ValueError("boom\nwith a second line")
    except ValueError:
        log.exception("step failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # a traceback stays inside its line
    first, second, third = _lines(stream)
    assert first["event"] == "submit tx 0xab carries 3 entries"
    assert first["level"] == "info" and first["service"] == "oracle" and first["node"] == "o1"
    assert first["logger"] == "depin.oracle"
    assert isinstance(first["ts"], str) and first["ts"].endswith("Z") and "T" in first["ts"]
    assert second["peer"] == "http://o2" and second["attempt"] == 2
    assert third["level"] == "error" and "ValueError: boom" in str(third["exc"])


def test_fields_that_json_cannot_encode_are_written_as_text(root: logging.Logger) -> None:
    stream = io.StringIO()
    logs.setup("indexer", "json", stream=stream)
    logging.getLogger("indexer").info("range", extra={"hash": b"\x01\x02", "blocks": {1, 2}})
    (line,) = _lines(stream)
    assert line["hash"] == str(b"\x01\x02")


def test_the_environment_chooses_json_when_no_flag_is_given(
    root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPIN_LOG_FORMAT", "json")
    assert logs.resolve(None) == "json"
    assert logs.resolve("text") == "text"
    monkeypatch.delenv("DEPIN_LOG_FORMAT")
    assert logs.resolve(None) == "text"


def test_text_lines_name_the_service_and_a_second_setup_replaces_the_first(
    root: logging.Logger,
) -> None:
    first, second = io.StringIO(), io.StringIO()
    logs.setup("agent", "text", stream=first)
    logs.setup("agent", "text", stream=second)
    logging.getLogger("depin.agent").info("attesting 2 GPU(s)")
    assert first.getvalue() == ""
    assert second.getvalue().rstrip().endswith(" agent attesting 2 GPU(s)")


def test_the_option_reads_the_flag_or_the_environment_and_refuses_other_formats() -> None:
    @click.command()
    @logs.option
    def command(log_format: str | None) -> None:
        click.echo(str(log_format))

    runner = CliRunner()
    assert runner.invoke(command, ["--log-format", "json"]).output == "json\n"
    assert runner.invoke(command, [], env={"DEPIN_LOG_FORMAT": "json"}).output == "json\n"
    refused = runner.invoke(command, ["--log-format", "xml"])
    assert refused.exit_code == 2 and "xml" in refused.output
