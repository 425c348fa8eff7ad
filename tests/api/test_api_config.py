"""``/v1/config``: the chain and its block explorer for the web page, and the setting that names
block explorers (``DEPIN_API_BLOCK_EXPLORERS``), refused by name when malformed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api import ApiSettings
from api.settings import DEFAULT_BLOCK_EXPLORERS

ENV = "DEPIN_API_BLOCK_EXPLORERS"


def test_a_dev_chain_has_no_block_explorer_by_default(client: TestClient) -> None:
    response = client.get("/v1/config")
    assert response.status_code == 200, response.text
    assert response.json() == {"chain_id": 31337, "dev_chain": True, "block_explorer": None}


def test_a_configured_block_explorer_is_named_with_its_page_templates(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(block_explorers={31337: "https://explorer.example/base"})
    body = client.get("/v1/config").json()
    assert body["chain_id"] == 31337
    assert body["block_explorer"] == {
        "url": "https://explorer.example/base",
        "address": "https://explorer.example/base/address/{address}",
        "transaction": "https://explorer.example/base/tx/{hash}",
    }


def test_the_config_route_is_documented_with_an_example(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/v1/config"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert schema["examples"][0]["block_explorer"]["url"] == "https://basescan.org"


def test_well_known_chains_have_defaults_and_a_setting_overrides_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    settings = ApiSettings()
    assert settings.block_explorer(1) == "https://etherscan.io"
    assert settings.block_explorer(8453) == "https://basescan.org"
    assert settings.block_explorer(31337) is None and settings.block_explorer(1337) is None
    assert settings.block_explorer(None) is None
    assert all(url.startswith("https://") for url in DEFAULT_BLOCK_EXPLORERS.values())

    monkeypatch.setenv(
        ENV, '{"1": "https://Etherscan.example/", "8453": "", "31337": "https://dev.example"}'
    )
    settings = ApiSettings()
    assert settings.block_explorer(1) == "https://etherscan.example"
    assert settings.block_explorer(8453) is None  # an empty value removes the default
    assert settings.block_explorer(31337) == "https://dev.example"
    assert settings.block_explorer(10) == DEFAULT_BLOCK_EXPLORERS[10]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("{not json", "is not JSON"),
        ('["https://etherscan.io"]', "must be a JSON object"),
        ('{"1": "http://etherscan.io"}', "is not an https:// URL"),
        ('{"1": "etherscan.io"}', "is not an https:// URL"),
        ('{"1": "https://etherscan.io/?a=1"}', "is not an https:// URL"),
        ('{"1": "https://user:pw@etherscan.io"}', "holds credentials"),
        ('{"1": 5}', "must be a URL string"),
        ('{"mainnet": "https://etherscan.io"}', "is not a chain id"),
        ('{"0": "https://etherscan.io"}', "is not a chain id"),
        ('{"-1": "https://etherscan.io"}', "is not a chain id"),
    ],
)
def test_a_malformed_setting_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    monkeypatch.setenv(ENV, value)
    with pytest.raises(ValidationError) as refused:
        ApiSettings()
    text = str(refused.value)
    assert ENV in text and says in text and "block_explorers" in text


def test_an_empty_setting_means_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "  ")
    assert ApiSettings().block_explorers == {}
    assert ApiSettings().block_explorer(1) == "https://etherscan.io"
