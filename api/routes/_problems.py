"""OpenAPI ``responses`` entries for the problem documents a route may answer."""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from api.schemas.common import Problem
from depin.problems import PROBLEM_MEDIA_TYPE, problem_document

_SCHEMA = Problem.model_json_schema()
_SCHEMA.pop("examples", None)

_DESCRIPTIONS = {
    400: "Refused (see the problem's type)",
    401: "No valid session",
    403: "Forbidden (a scope the credential lacks, or another provider's resource)",
    404: "Not found",
    409: "Conflict",
    422: "Validation failed",
    429: "Rate limited (see Retry-After)",
    503: "A backing service is unavailable",
}


def problems(*errors: type[ApiError]) -> dict[int | str, dict[str, Any]]:
    """Responses for ``errors`` plus the validation problems every route can answer (a bad
    body, or a bad query parameter or header: ``invalid_filter``)."""
    from api.errors import InvalidFilterError, ValidationProblem

    by_status: dict[int, list[type[ApiError]]] = {}
    kinds_in: tuple[type[ApiError], ...] = tuple(
        dict.fromkeys((ValidationProblem, InvalidFilterError, *errors))
    )
    for error in kinds_in:
        by_status.setdefault(error.status, []).append(error)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, kinds in sorted(by_status.items()):
        examples = {
            kind.code: {
                "summary": kind.title,
                "value": problem_document(
                    kind.code, status, f"{kind.title.lower()} (example)", title=kind.title
                ),
            }
            for kind in kinds
        }
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS.get(status, kinds[0].title),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": _SCHEMA, "examples": examples}},
        }
        if status == 429:
            entry["headers"] = {
                "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
            }
        responses[status] = entry
    return responses
