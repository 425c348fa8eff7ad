"""``depin api``: the prestart refusal and the OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import api
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
