"""``/docs``: Swagger UI from the installed ``fastapi-offline`` package (its bundled Swagger UI
5, which reads OpenAPI 3.1), so the API's documentation renders with no network beyond this
server: nothing comes from a CDN.

The OpenAPI document keeps the nulls of its examples: FastAPI writes the document without null
values, which would drop them from the examples too (an example without a required nullable
field, such as ``revoked_at``, no longer validates against its own schema)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from api.web import STATIC_DIR

ASSETS = "/docs/assets"
#: swagger-ui-bundle.js and swagger-ui.css, as the package installed them
SWAGGER_UI = files("fastapi_offline") / "static"
FAVICON = "/web/favicon.svg"


def install_docs(app: FastAPI, *, openapi_url: str = "/openapi.json") -> None:
    """Serves Swagger UI at ``/docs`` with its script and style under ``/docs/assets``, and
    the site's icon at ``/favicon.ico`` (the path browsers ask for on their own)."""
    if getattr(app.state, "docs_installed", False):
        return
    app.state.docs_installed = True
    _keep_example_nulls(app)
    app.mount(ASSETS, StaticFiles(directory=str(SWAGGER_UI)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title}: documentation",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=FAVICON,
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "favicon.svg",
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )


def _models() -> Iterator[type[BaseModel]]:
    """The API's and the protocol package's models (subclasses included)."""
    seen: set[type[BaseModel]] = set()
    pending = list(BaseModel.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls not in seen and cls.__module__.startswith(("api.", "depin.")):
            seen.add(cls)
            yield cls


def declared_examples() -> list[Any]:
    """Every example the API declares: each model's ``examples`` (and each of them), and the
    capability document the capabilities routes show."""
    from api.schemas.capabilities import CAPABILITIES_EXAMPLE

    declared: list[Any] = [CAPABILITIES_EXAMPLE]
    for cls in _models():
        extra = cls.model_config.get("json_schema_extra")
        examples = extra.get("examples") if isinstance(extra, dict) else None
        if isinstance(examples, list):
            declared.append(examples)
            declared.extend(examples)
    return declared


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def restore_example_nulls(document: dict[str, Any], declared: list[Any]) -> None:
    """Puts back, in place, the nulls the document's examples lost: each ``example`` or
    ``examples`` value that is a declared example without its nulls becomes that example."""
    originals: dict[str, Any] = {}
    for example in declared:
        encoded = jsonable_encoder(example)
        if encoded != _without_nulls(encoded):
            originals.setdefault(_key(_without_nulls(encoded)), encoded)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                original = originals.get(_key(value)) if key in ("example", "examples") else None
                if original is not None:
                    node[key] = original
                else:
                    visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    if originals:
        visit(document)


def _keep_example_nulls(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            restore_example_nulls(generate(), declared_examples())
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["declared_examples", "install_docs", "restore_example_nulls"]
