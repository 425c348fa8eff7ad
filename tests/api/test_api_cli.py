"""``depin api``: the prestart refusal and the OpenAPI document."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ValidationError

from api.cli import api
from api.schemas.capabilities import (
    CAPABILITIES_EXAMPLE,
    CAPABILITIES_HASH_EXAMPLE,
    CapabilitiesStored,
)
from depin.capabilities import CapabilityDocument, document_hash
from depin.crypto import checksum_address, to_hex
from indexer.db import make_engine, migrate


def test_serve_refuses_missing_or_unmigrated_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'inventory.sqlite'}"
    monkeypatch.setenv("DEPIN_API_DATABASE_URL", url)
    result = CliRunner().invoke(api, ["serve"])
    assert result.exit_code == 1
    assert "no inventory database" in result.output and "depin indexer migrate" in result.output
    make_engine(url).dispose()  # an empty file, never migrated
    (tmp_path / "inventory.sqlite").touch()
    result = CliRunner().invoke(api, ["prestart"])
    assert result.exit_code == 1 and "run `depin indexer migrate`" in result.output
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    result = CliRunner().invoke(api, ["prestart"])
    assert result.exit_code == 0, result.output


def test_openapi_document_has_examples_for_every_operation() -> None:
    result = CliRunner().invoke(api, ["openapi"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            success = next(iter(operation["responses"]))
            ok = operation["responses"][success]
            if success == "204":  # No Content: nothing to give an example of
                assert "content" not in ok, f"{method.upper()} {path}: a 204 with a body"
            else:
                content = next(iter(ok["content"].values()))
                schema = content.get("schema", {})
                name = schema.get("$ref", "").rsplit("/", 1)[-1]
                has_example = "example" in content or bool(schemas.get(name, {}).get("examples"))
                assert has_example, f"{method.upper()} {path} has no example"
            assert any(str(code).startswith("4") for code in operation["responses"])
            for code, response in operation["responses"].items():
                if str(code).startswith(("4", "5")):
                    assert "application/problem+json" in response["content"], (path, code)


def _models() -> list[type[BaseModel]]:
    """Every model of the API and the protocol package (subclasses included)."""
    found: list[type[BaseModel]] = []
    pending = list(BaseModel.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith(("api.", "depin.")) and cls not in found:
            found.append(cls)
    return found


def _declared_examples(cls: type[BaseModel]) -> list[Any]:
    extra = cls.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    return list(examples) if isinstance(examples, list) else []


def _hex_values(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _hex_values(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _hex_values(v, key)
    elif isinstance(value, str) and value.startswith("0x"):
        yield key, value


def _check_hex(where: str, example: Any) -> None:
    """Addresses in EIP-55 form; hashes and keys as 0x and 32 bytes of lowercase hex."""
    for key, value in _hex_values(example):
        if len(value) == 42:
            assert value == checksum_address(value), f"{where}: {key} {value} is not EIP-55"
        if key in ("gpu_key", "digest", "subject") or key.endswith(("hash", "_tx")):
            assert re.fullmatch(r"0x[0-9a-f]{64}", value), f"{where}: {key} {value}"


def test_every_example_validates_against_its_model() -> None:
    """Each model's declared examples, and the examples the OpenAPI document publishes for it
    (nulls included), validate against the model."""
    result = CliRunner().invoke(api, ["openapi"])
    assert result.exit_code == 0, result.output
    models: dict[str, list[type[BaseModel]]] = {}
    for cls in _models():
        models.setdefault(cls.__name__, []).append(cls)
        for example in _declared_examples(cls):
            where = f"{cls.__module__}.{cls.__qualname__}"
            try:
                cls.model_validate(example)
            except ValidationError as exc:
                pytest.fail(f"{where}: its example does not validate: {exc}")
            _check_hex(where, example)
    for name, schema in json.loads(result.output)["components"]["schemas"].items():
        published = schema.get("examples", [])
        if not isinstance(published, list) or not published or "properties" not in schema:
            continue
        (cls,) = models[name.removesuffix("-Input").removesuffix("-Output")]
        for example in published:
            try:
                cls.model_validate(example)
            except ValidationError as exc:
                pytest.fail(f"{name}: the document's example does not validate: {exc}")


def test_capability_document_example_is_the_document_its_hash_names() -> None:
    result = CliRunner().invoke(api, ["openapi"])
    assert result.exit_code == 0, result.output
    item = json.loads(result.output)["paths"]["/v1/capabilities/{document_hash}"]
    answered = item["get"]["responses"]["200"]["content"]["application/json"]["example"]
    sent = item["put"]["requestBody"]["content"]["application/json"]["example"]
    assert answered == sent == CAPABILITIES_EXAMPLE
    document = CapabilityDocument.model_validate(CAPABILITIES_EXAMPLE)
    assert document.as_json() == CAPABILITIES_EXAMPLE  # every field, as the canonical bytes
    assert to_hex(document_hash(document)) == CAPABILITIES_HASH_EXAMPLE
    stored = CapabilitiesStored.model_validate(_declared_examples(CapabilitiesStored)[0])
    assert stored.document_hash == CAPABILITIES_HASH_EXAMPLE
    assert stored.gpu_keys == sorted(g.gpu_key for g in document.gpus)
    (parameter,) = item["get"]["parameters"]
    assert parameter["schema"]["examples"] == [CAPABILITIES_HASH_EXAMPLE]
    _check_hex("the capability document example", CAPABILITIES_EXAMPLE)
