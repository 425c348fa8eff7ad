"""``/docs``: Swagger UI from the installed ``fastapi-offline`` package (its bundled Swagger UI
5, which reads OpenAPI 3.1), so the API's documentation renders with no network beyond this
server: nothing comes from a CDN."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

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


__all__ = ["install_docs"]
