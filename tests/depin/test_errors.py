"""Errors built from their facts (:func:`depin.errors.facts`): the constructor takes the facts, the
error keeps them as attributes, and its sentence is the class's template filled in with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from depin.errors import ConfigurationError, DepinError, NodeUnavailableError, facts
from depin.keys import KeystoreExistsError
from depin.proof.errors import LateCommitmentError
from depin.wire import RefusalCode
from oracle.errors import NotFound, Refusal, VendorMismatch


def test_the_facts_are_the_arguments_and_stay_on_the_error() -> None:
    error = NodeUnavailableError("eth_call", "timed out", 3, 12.4)

    assert (error.method, error.last, error.tries) == ("eth_call", "timed out", 3)
    assert error.waited == 12.4
    assert error.kind == "unknown"  # the default
    assert error.message == "eth_call failed 3 times in 12s; the last failure: timed out"
    assert str(error) == error.message
    assert error.args == (error.message,)
    assert (error.code, error.retryable) == ("node_unavailable", True)


def test_facts_may_be_named_and_the_template_keeps_their_format_specs() -> None:
    error = LateCommitmentError(challenge_id="c1", elapsed_s=0.5, deadline_s=0.25, tops=1.5)

    assert error.message == (
        "challenge c1: commitments after 0.5000 s, deadline was 0.2500 s "
        "(1.500 TOPS is below what the claimed model must reach)"
    )


def test_a_missing_fact_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        NodeUnavailableError("eth_call", "timed out")  # type: ignore[call-arg]


def test_a_class_may_say_its_sentence_itself() -> None:
    assert KeystoreExistsError(Path("/k.json")).message == (
        "a key store already exists at /k.json; pass --force to replace it"
    )
    assert KeystoreExistsError(Path("/a.json"), label="agent key").message.startswith("an agent")


def test_a_refusal_built_from_facts_is_still_a_problem_with_its_status() -> None:
    missing = NotFound("/v1/nothing")
    mismatch = VendorMismatch("nvidia-h100", 0x10DE, 0x1002)

    assert missing.detail == "no route /v1/nothing"
    assert missing.problem()["status"] == 404
    assert mismatch.detail == "nvidia-h100 is made by 0x10de, not 0x1002"
    assert mismatch.problem()["code"] == RefusalCode.VENDOR_MISMATCH


def test_facts_go_on_any_branch_of_the_hierarchy() -> None:
    @facts
    class Limited(ConfigurationError):
        code = "limited"
        template = "{what} is limited to {limit:,}"
        what: str
        limit: int = 1000

    error = Limited("the page")

    assert isinstance(error, ConfigurationError)
    assert isinstance(error, DepinError)
    assert error.message == "the page is limited to 1,000"
    assert error.code == "limited"
    assert error != Limited("the page")  # errors compare by identity, as exceptions do
    with pytest.raises(Limited, match="limited to 5"):
        raise Limited("the page", 5)


def test_a_refusal_without_facts_keeps_its_plain_constructor() -> None:
    class Plain(Refusal):
        code = RefusalCode.MALFORMED_REQUEST

    assert Plain("the body is not JSON").detail == "the body is not JSON"
