"""One search box: a GPU key (or a prefix of one), a provider or agent address, a transaction
hash, or a model name (or a prefix of one). Every lookup is an index seek or a bounded walk of
an index: at most :data:`MAX_RESULTS` rows each, whatever the size of the inventory."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from eth_utils import to_checksum_address
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.inventory._tables import AT, A, G, P
from api.inventory.snapshot import as_of
from indexer.models import Event

#: bounds on the query's length (characters)
MIN_QUERY = 2
MAX_QUERY = 128
#: the most results of one kind
MAX_RESULTS = 10

_EV = Event.__table__.c
_HASH = re.compile(r"0x[0-9a-f]{64}")
_ADDRESS = re.compile(r"0x[0-9a-f]{40}")
_HEX_PREFIX = re.compile(r"0x[0-9a-f]{1,63}")
#: above every character a model name can hold (SQLite BINARY and C-collated PostgreSQL
#: compare code points), so ``[prefix, prefix + _TOP)`` is the range of names with the prefix
_TOP = "\U0010ffff"


def _gpu(row: Any) -> dict[str, Any]:
    key = row.gpu_key
    return {
        "kind": "gpu",
        "key": key,
        "label": f"{row.model} of {row.provider}",
        "links": {
            "gpu": f"/v1/gpus/{key}",
            "status": f"/v1/gpus/{key}/status",
            "attestations": f"/v1/gpus/{key}/attestations",
            "provider": f"/v1/providers/{row.provider}",
        },
    }


def _provider_links(address: str) -> dict[str, str]:
    return {
        "provider": f"/v1/providers/{address}",
        "gpus": "/v1/gpus?" + urlencode({"provider": address}),
    }


def search(session: Session, query: str) -> tuple[list[dict[str, Any]], int]:
    """What ``query`` names, each kind at most :data:`MAX_RESULTS` times, and the block it is
    true at."""
    block = as_of(session)
    text = query.strip()
    lowered = text.lower()
    found: list[dict[str, Any]] = []
    if _HASH.fullmatch(lowered):
        found += _by_hash(session, lowered)
    elif _ADDRESS.fullmatch(lowered):
        found += _by_address(session, to_checksum_address(lowered))
    if _HEX_PREFIX.fullmatch(lowered):
        rows = session.execute(
            select(G.gpu_key, G.model, G.provider)
            .where(G.gpu_key >= lowered, G.gpu_key < lowered + "g")
            .order_by(G.gpu_key)
            .limit(MAX_RESULTS)
        ).all()
        found += [_gpu(r) for r in rows]
    if text:
        found += _models(session, text)
    return found, block


def _by_hash(session: Session, value: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    gpu = session.execute(select(G.gpu_key, G.model, G.provider).where(G.gpu_key == value)).first()
    if gpu is not None:
        found.append(_gpu(gpu))
    events = session.execute(
        select(_EV.block_number, _EV.name)
        .where(_EV.tx_hash == value)
        .order_by(_EV.tx_hash, _EV.log_index)
        .limit(MAX_RESULTS)
    ).all()
    if events:
        names = list(dict.fromkeys(e.name for e in events))
        links: dict[str, str] = {}
        attested = session.execute(
            select(AT.gpu_key).where(AT.tx_hash == value).order_by(AT.log_index).limit(1)
        ).first()
        if attested is not None:
            links["gpu"] = f"/v1/gpus/{attested.gpu_key}"
            links["attestations"] = f"/v1/gpus/{attested.gpu_key}/attestations"
        found.append(
            {
                "kind": "transaction",
                "key": value,
                "label": f"block {events[0].block_number}: {', '.join(names)}",
                "links": links,
            }
        )
    return found


def _by_address(session: Session, address: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    provider = session.execute(select(P.address, P.name).where(P.address == address)).first()
    if provider is not None:
        found.append(
            {
                "kind": "provider",
                "key": address,
                "label": provider.name,
                "links": _provider_links(address),
            }
        )
    agents = session.execute(
        select(A.provider).where(A.agent == address).order_by(A.provider).limit(MAX_RESULTS)
    ).all()
    found += [
        {
            "kind": "agent",
            "key": address,
            "label": f"agent of {row.provider}",
            "links": _provider_links(row.provider),
        }
        for row in agents
    ]
    return found


def model_seek(low: str, inclusive: bool, high: str) -> Select[Any]:
    """The first model name from ``low`` (itself included or not) below ``high``."""
    after = G.model >= low if inclusive else G.model > low
    return select(G.model).where(after, G.model < high).order_by(G.model).limit(1)


def _models(session: Session, prefix: str) -> list[dict[str, Any]]:
    """The distinct models starting with ``prefix``: one seek of the model index per model
    (a skip scan), so a prefix shared by a million GPUs costs :data:`MAX_RESULTS` seeks."""
    found: list[dict[str, Any]] = []
    low, inclusive = prefix, True
    high = prefix + _TOP
    while len(found) < MAX_RESULTS:
        model = session.execute(model_seek(low, inclusive, high)).scalar_one_or_none()
        if model is None:
            break
        found.append(
            {
                "kind": "model",
                "key": model,
                "label": model,
                "links": {"gpus": f"/v1/gpus?model={quote(model, safe='')}"},
            }
        )
        low, inclusive = model, False
    return found
