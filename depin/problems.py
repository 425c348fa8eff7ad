"""RFC 9457 ``application/problem+json``: one renderer for every HTTP service of the project.

A problem's ``type`` is ``urn:depin:problem:<code>`` (the code's slug with dashes), and its
``code`` extension member is the code itself, so that a client branches on the code without
parsing the English ``detail``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, Unpack

from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "TYPE_PREFIX",
    "Problem",
    "ProblemMembers",
    "problem_document",
    "problem_response",
    "title_of",
    "type_uri",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:depin:problem:"


def type_uri(code: str) -> str:
    """The stable ``type`` URI of the problems with this ``code``."""
    return TYPE_PREFIX + code.replace("_", "-")


def title_of(code: str) -> str:
    """A title derived from the code, for problems that do not name one."""
    return code.replace("_", " ").capitalize()


class ProblemMembers(TypedDict, total=False):
    """A problem's optional members: its ``title`` (else one from the code), ``instance``, and
    ``extra`` extension members."""

    title: str | None
    instance: str | None
    extra: Mapping[str, Any] | None


def problem_document(
    code: str,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    instance: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The problem document: ``type``, ``title``, ``status``, ``detail``, ``code``, then
    ``instance`` and any extension members."""
    body: dict[str, Any] = {
        "type": type_uri(code),
        "title": title if title is not None else title_of(code),
        "status": status,
        "detail": detail,
        "code": str(code),
    }
    if instance is not None:
        body["instance"] = instance
    if extra:
        body.update(extra)
    return body


def problem_response(
    code: str,
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **members: Unpack[ProblemMembers],
) -> JSONResponse:
    """The problem document (see :func:`problem_document`) as an HTTP response of its status."""
    return JSONResponse(
        problem_document(code, status, detail, **members),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers) if headers else None,
    )


class Problem(BaseModel):
    """A problem document as a client reads it; extension members are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = "about:blank"
    title: str = ""
    status: int
    detail: str = ""
    code: str
    instance: str | None = None
