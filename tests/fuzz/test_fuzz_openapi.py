"""Schemathesis over both OpenAPI documents (the API's and the oracle's), with valid and
negative data: never a 5xx, and every refusal a problem document with a known code."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from conftest import CASES
from fastapi.testclient import TestClient
from fuzz_bodies import check_answer
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from api.errors import ALL_PROBLEMS
from depin.proof.errors import ProofError
from depin.wire import RefusalCode

pytestmark = pytest.mark.integration

CODES = (
    {p.code for p in ALL_PROBLEMS}
    | {c.value for c in RefusalCode}
    | {str(c.code) for c in ProofError.__subclasses__()}
)
EXAMPLES = max(40, settings.default.max_examples // 10)


def _schema(client: TestClient) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return schema


@pytest.fixture(scope="module")
def api_schema(api_client: TestClient) -> Any:
    return _schema(api_client)


@pytest.fixture(scope="module")
def oracle_schema(oracle_client: TestClient) -> Any:
    return _schema(oracle_client)


def _check(case: schemathesis.Case, client: TestClient) -> None:
    CASES[f"schemathesis {case.method} {case.path}"] += 1
    if case.path == "/v1/events":
        case.query = {**(case.query or {}), "follow": "false"}  # the backlog form ends
    check_answer(case.call(), CODES)


_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@schemathesis.pytest.from_fixture("api_schema").parametrize()
@_SETTINGS
def test_api_openapi_negative(case: schemathesis.Case, api_client: TestClient) -> None:
    _check(case, api_client)


@schemathesis.pytest.from_fixture("oracle_schema").parametrize()
@_SETTINGS
def test_oracle_openapi_negative(case: schemathesis.Case, oracle_client: TestClient) -> None:
    _check(case, oracle_client)
