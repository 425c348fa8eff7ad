"""The API's boundary under generated hostile bodies: never a 5xx, every refusal a problem
document with a stable code, and the service still serving after each batch."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from fuzz_bodies import body, check_answer, fuzz_posts, hostile, raw, valid
from hypothesis import strategies as st

from api.errors import ALL_PROBLEMS
from depin.eip712 import _DOMAIN_TYPE, Message
from depin.messages import REGISTRY_MESSAGES
from depin.registry import RegistryClient

pytestmark = pytest.mark.integration

CODES = {p.code for p in ALL_PROBLEMS}
DOMAIN_FIELDS = tuple((f["name"], f["type"]) for f in _DOMAIN_TYPE)
ROUTES = {
    "Registration": "registration",
    "ProfileUpdate": "profile-update",
    "AgentAuthorization": "agent-authorization",
    "AgentRevocation": "agent-revocation",
    "Deregistration": "deregistration",
}


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).replace("_u_r_i", "_uri")


def _request_fields(kind: type[Message]) -> tuple[tuple[str, str], ...]:
    """A typed-data route's body: the message's fields but the nonce and deadline it fills in,
    snake_cased, and the signature's time to live."""
    fields = tuple((_snake(n), t) for n, t in kind.FIELDS if n not in ("nonce", "deadline"))
    return (*fields, ("ttl", "uint64"))


def _typed_data(kind: type[Message], domain: dict[str, Any]) -> st.SearchStrategy[Any]:
    types = {"EIP712Domain": _DOMAIN_TYPE, kind.PRIMARY_TYPE: kind.typed_fields()}
    return st.fixed_dictionaries(
        {
            "types": st.just(types),
            "primaryType": st.just(kind.PRIMARY_TYPE),
            "domain": st.just(domain) | body(DOMAIN_FIELDS),
            "message": body(kind.FIELDS),
        }
    )


def _relay_bodies(domain: dict[str, Any]) -> st.SearchStrategy[Any]:
    kinds = list(REGISTRY_MESSAGES.values())
    full = st.sampled_from(kinds).flatmap(
        lambda k: st.fixed_dictionaries(
            {"typed_data": _typed_data(k, domain), "signature": valid("bytes65")}
        )
    )
    bare = st.sampled_from(kinds).flatmap(
        lambda k: st.fixed_dictionaries(
            {
                "primary_type": st.just(k.PRIMARY_TYPE) | hostile("string"),
                "message": body(k.FIELDS),
                "signature": valid("bytes65") | hostile("bytes65"),
            }
        )
    )
    both = st.sampled_from(kinds).flatmap(
        lambda k: st.fixed_dictionaries(
            {
                "typed_data": _typed_data(k, domain),
                "primary_type": st.sampled_from(sorted(REGISTRY_MESSAGES)),
                "message": body(k.FIELDS),
                "signature": valid("bytes65"),
            }
        )
    )
    return full | bare | both


def _still_serving(client: TestClient) -> None:
    assert client.get("/openapi.json").status_code == 200
    check_answer(client.get("/v1/health"), CODES)


def test_relay_survives_hostile_typed_data(
    api_client: TestClient, fuzz_registry: RegistryClient
) -> None:
    domain = fuzz_registry.domain.as_json()
    fuzz_posts(api_client, "/v1/relay", raw(_relay_bodies(domain)), CODES)
    _still_serving(api_client)


@pytest.mark.parametrize("primary", sorted(ROUTES))
def test_typed_data_routes_survive_hostile_bodies(api_client: TestClient, primary: str) -> None:
    path = f"/v1/typed-data/{ROUTES[primary]}"
    fields = _request_fields(REGISTRY_MESSAGES[primary])
    fuzz_posts(api_client, path, raw(body(fields)), CODES)
    _still_serving(api_client)


def test_siwe_verify_survives_hostile_bodies(api_client: TestClient) -> None:
    fields = (("message", "string"), ("signature", "bytes65"))
    fuzz_posts(api_client, "/v1/auth/verify", raw(body(fields)), CODES)
    _still_serving(api_client)
