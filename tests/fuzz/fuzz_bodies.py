"""Hypothesis strategies derived from the protocol's own message definitions (each ``FIELDS``
type gives a strategy), and the hostile mutations a boundary must survive: integers out of the
range of every width, wrong-length bytes, odd encodings (hex and decimal strings, floats,
booleans, huge numbers), deep nesting, unknown, missing and duplicated fields, invalid UTF-8."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from depin.crypto import checksum_address, to_hex

Fields = tuple[tuple[str, str], ...]

_SCALARS = st.sampled_from(
    [None, True, False, 0.5, 1.5, -0.0, 1e300, float("inf"), float("nan"), "", "0x", "0xzz", [], {}]
)
_HUGE = st.sampled_from([2**64, 2**70, 2**256, 2**300, -(2**255), -1, 10**400])


def deep(depth: int = 64) -> Any:
    value: Any = 0
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


def valid(sol_type: str) -> st.SearchStrategy[Any]:
    """A well-formed value of ``sol_type`` as the wire carries it (integers sometimes as hex or
    decimal strings, as wallets send them)."""
    if sol_type.endswith("[]"):
        return st.lists(valid(sol_type[:-2]), max_size=4)
    if sol_type == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: checksum_address(to_hex(b)))
    if sol_type == "string":
        return st.text(max_size=40)
    if sol_type == "bool":
        return st.booleans()
    if sol_type == "bytes":
        return st.binary(max_size=8).map(to_hex)
    if sol_type.startswith("bytes"):
        size = int(sol_type[5:])
        return st.binary(min_size=size, max_size=size).map(to_hex)
    bits = int(re.sub(r"\D", "", sol_type) or 256)
    number = st.integers(0, 2**bits - 1)
    return number | number.map(hex) | number.map(str)


def hostile(sol_type: str) -> st.SearchStrategy[Any]:
    """A value a field of ``sol_type`` must refuse (or, for some, may read otherwise)."""
    odd = _SCALARS | st.just(deep()) | st.text(max_size=12)
    if sol_type.endswith("[]"):
        return odd | st.lists(hostile(sol_type[:-2]), min_size=1, max_size=3)
    if sol_type.startswith(("uint", "int")):
        bits = int(re.sub(r"\D", "", sol_type) or 256)
        beyond = st.sampled_from([2**bits, 2**bits + 1, -1, -(2**bits)]) | _HUGE
        floats = st.floats(allow_nan=True, allow_infinity=True)
        return beyond | beyond.map(hex) | beyond.map(str) | floats | odd
    if sol_type == "address" or sol_type.startswith("bytes"):
        size = 20 if sol_type == "address" else int(sol_type[5:] or 0) or 1
        wrong = st.binary(max_size=size + 8).filter(lambda b: len(b) != size).map(to_hex)
        return wrong | st.just("0x123") | st.integers() | odd
    return odd | st.integers()


@st.composite
def body(draw: st.DrawFn, fields: Fields, **fixed: st.SearchStrategy[Any]) -> dict[str, Any]:
    """A body with every field of ``fields`` (plus ``fixed``), often with one mutation."""
    out: dict[str, Any] = {n: draw(valid(t)) for n, t in fields}
    out.update({n: draw(s) for n, s in fixed.items()})
    mutation = draw(st.sampled_from(["none", "hostile", "hostile", "drop", "unknown", "wrong"]))
    name, sol_type = draw(st.sampled_from(fields))
    if mutation == "hostile":
        out[name] = draw(hostile(sol_type))
    elif mutation == "drop":
        out.pop(name, None)
    elif mutation == "unknown":
        out[draw(st.text(min_size=1, max_size=12))] = draw(valid("uint256") | _SCALARS)
    elif mutation == "wrong":
        out[name] = draw(valid(draw(st.sampled_from(["uint8", "bytes32", "string", "address"]))))
    return out


def _duplicate_first_key(text: str, value: Any) -> str:
    match = re.match(r'\{("(?:[^"\\]|\\.)*"):', text)
    if match is None:
        return text
    return "{" + match.group(1) + ":" + json.dumps(value) + "," + text[1:]


@st.composite
def raw(draw: st.DrawFn, bodies: st.SearchStrategy[Any]) -> bytes:
    """The JSON text of a body, sometimes broken the ways a parser meets on the wire."""
    value = draw(bodies)
    text = json.dumps(value)
    how = draw(
        st.sampled_from(["json"] * 6 + ["duplicate", "utf8", "nesting", "truncate", "huge", "type"])
    )
    if how == "duplicate":
        text = _duplicate_first_key(text, draw(_SCALARS | _HUGE))
    elif how == "nesting":
        depth = draw(st.sampled_from([100, 1000, 5000]))
        return b"[" * depth + b"]" * depth
    elif how == "truncate":
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    elif how == "huge":
        text = re.sub(r"(?<=: )\d+", "1e400", text, count=1)
    elif how == "type":
        text = json.dumps(draw(_SCALARS | st.text(max_size=8)))
    data = text.encode()
    if how == "utf8":
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])) + data[at:]
        )
    return data


def check_answer(response: Any, codes: set[str]) -> None:
    """Never a 5xx; every refusal a problem document with a known, stable ``code``."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        kind = response.headers.get("content-type", "")
        kind = kind[0] if isinstance(kind, list) else kind  # schemathesis: a list per header
        assert kind.startswith("application/problem+json"), (response.status_code, kind)
        problem = response.json()
        assert problem["code"] in codes, problem
        assert problem["status"] == response.status_code, problem


def post_raw(client: TestClient, path: str, data: bytes) -> Any:
    return client.post(path, content=data, headers={"content-type": "application/json"})


CASES: Counter[str] = Counter()
"""Generated bodies sent, per route (reported at the end of the session)."""

EXAMPLES = max(500, settings.default.max_examples)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
"""Hundreds of bodies a route, never shrunk against a stored database."""


def fuzz_posts(
    client: TestClient, path: str, bodies: st.SearchStrategy[bytes], codes: set[str]
) -> None:
    """Posts each raw body drawn from ``bodies`` to ``path`` and checks every answer
    (:func:`check_answer`), counting them in :data:`CASES`."""

    @FUZZ
    @given(data=bodies)
    def run(data: bytes) -> None:
        CASES[f"POST {path}"] += 1
        check_answer(post_raw(client, path, data), codes)

    run()
