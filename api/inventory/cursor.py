"""Keyset pagination: the opaque cursor, the comparison that resumes after it, the page."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import tuple_

from api.errors import InvalidFilterError


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int
    as_of_block: int
    #: how recent the liveness the page tells is (GPU pages)
    liveness: dict[str, Any] | None = None
    #: whether ``total`` is an exact count (else an estimate above the exact-count limit)
    total_exact: bool = True


def encode_cursor(sort: str, value: Any, key: str) -> str:
    raw = json.dumps([sort, value, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, key = json.loads(raw)
    except Exception:
        raise InvalidFilterError("the cursor is not one this API issued") from None
    if cursor_sort != sort:
        raise InvalidFilterError(
            f"the cursor was issued for sort={cursor_sort!r}, not sort={sort!r}"
        )
    if not isinstance(key, str) or not isinstance(value, int | str) or isinstance(value, bool):
        raise InvalidFilterError("the cursor is not one this API issued")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise InvalidFilterError("the cursor is not one this API issued")  # no column holds it
    return value, key


def keyset(column: Any, key_column: Any, descending: bool, value: Any, key: str) -> Any:
    """The rows after ``(value, key)`` in the order :func:`order` gives."""
    if column is key_column:
        return key_column < key if descending else key_column > key
    if descending:
        return tuple_(column, key_column) < tuple_(value, key)
    return tuple_(column, key_column) > tuple_(value, key)


def order(column: Any, key_column: Any, descending: bool) -> list[Any]:
    """ORDER BY ``column``, ties broken by the unique ``key_column``."""
    if column is key_column:
        return [key_column.desc() if descending else key_column.asc()]
    if descending:
        return [column.desc(), key_column.desc()]
    return [column.asc(), key_column.asc()]
