"""The explorer, onboarding and console web pages: static HTML, CSS and JavaScript served by
the API.

Nothing is built or downloaded: the pages are plain files in ``static/`` that call the API's
``/v1`` routes from the browser. :func:`mount_web` adds them to an application.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: The pages load nothing but this origin's files and talk to nothing but this origin's API.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html", headers=_PAGE_HEADERS)


def mount_web(app: FastAPI) -> None:
    """Serves the explorer at ``/``, the onboarding page at ``/onboard``, the provider's
    console at ``/console`` and their assets under ``/web/``. Mounting twice changes nothing."""
    if getattr(app.state, "web_mounted", False):
        return
    app.state.web_mounted = True

    @app.get("/", include_in_schema=False)
    def explorer() -> FileResponse:
        return _page("index.html")

    @app.get("/onboard", include_in_schema=False)
    def onboard() -> FileResponse:
        return _page("onboard.html")

    @app.get("/console", include_in_schema=False)
    def console() -> FileResponse:
        return _page("console.html")

    app.mount("/web", StaticFiles(directory=STATIC_DIR), name="web")


__all__ = ["STATIC_DIR", "mount_web"]
