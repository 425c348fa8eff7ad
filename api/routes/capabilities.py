"""Capability documents: put one whose hash the chain attested, read one back by its hash."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from api.capabilities import (
    attested_gpus,
    document_text,
    store_document,
)
from api.deps import InventoryReadable, SessionDep
from api.errors import (
    CapabilitiesHashMismatchError,
    CapabilitiesNotAttestedError,
    CapabilitiesTooLargeError,
    InvalidCapabilitiesError,
    NotFoundError,
    ServiceUnavailableError,
)
from api.routes._problems import problems
from api.schemas.capabilities import (
    CAPABILITIES_EXAMPLE,
    CAPABILITIES_HASH_EXAMPLE,
    CapabilitiesStored,
)
from depin.capabilities import MAX_DOCUMENT_BYTES, CapabilityDocument
from depin.capabilities import document_hash as hash_of
from depin.crypto import to_hex

router = APIRouter(
    prefix="/v1/capabilities", tags=["capabilities"], dependencies=[InventoryReadable]
)

DocumentHash = Annotated[
    str,
    Path(
        pattern=r"^0x[0-9a-fA-F]{64}$",
        description="keccak256 of the document's RFC 8785 bytes, as GPU attestations name it",
        examples=[CAPABILITIES_HASH_EXAMPLE],
    ),
]

#: the document's schema, its parts referenced from the components (the GPU detail's response
#: puts them there)
_DOCUMENT_SCHEMA = CapabilityDocument.model_json_schema(
    by_alias=True, ref_template="#/components/schemas/{model}"
)
_DOCUMENT_SCHEMA.pop("$defs", None)
_DOCUMENT_BODY: dict[str, Any] = {
    "content": {"application/json": {"schema": _DOCUMENT_SCHEMA, "example": CAPABILITIES_EXAMPLE}},
    "required": True,
    "description": f"the capability document (schema `depin.capabilities/1`, at most "
    f"{MAX_DOCUMENT_BYTES // 1024} KiB)",
}


def _parse(raw: bytes) -> CapabilityDocument:
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise CapabilitiesTooLargeError(
            f"the document has {len(raw)} bytes; at most {MAX_DOCUMENT_BYTES} are taken"
        )
    try:
        return CapabilityDocument.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            {"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        first = errors[0]
        raise InvalidCapabilitiesError(
            f"{'.'.join(first['loc']) or 'body'}: {first['msg']}", errors=errors
        ) from None


@router.put(
    "/{document_hash}",
    response_model=CapabilitiesStored,
    status_code=201,
    responses={
        200: {"description": "The document was stored already", "model": CapabilitiesStored},
        **problems(
            InvalidCapabilitiesError,
            CapabilitiesTooLargeError,
            CapabilitiesHashMismatchError,
            CapabilitiesNotAttestedError,
            ServiceUnavailableError,
        ),
    },
    openapi_extra={"requestBody": _DOCUMENT_BODY},
)
async def put_capabilities(
    document_hash: DocumentHash, request: Request, session: SessionDep
) -> JSONResponse:
    """Stores a host's capability document under its hash, once an attestation on the chain
    names that hash (else `409 capabilities_not_attested`: offer it again after the batch
    lands). Oracles forward the documents they checked; anyone may put one, since the hash
    decides what is taken. `201` when stored now, `200` when it was stored already."""
    key = document_hash.lower()
    document = _parse(await request.body())
    computed = to_hex(hash_of(document))
    if computed != key:
        raise CapabilitiesHashMismatchError(
            f"the document hashes to {computed}, not {key}", computed=computed
        )
    gpus = await anyio.to_thread.run_sync(attested_gpus, session, key)
    if not gpus:
        raise CapabilitiesNotAttestedError(
            f"no GPU's latest attestation names capability document {key}"
        )
    new = await anyio.to_thread.run_sync(store_document, request.app.state.shared, document)
    body = CapabilitiesStored(document_hash=key, stored=new, gpu_keys=gpus)
    return JSONResponse(body.model_dump(), status_code=201 if new else 200)


@router.get(
    "/{document_hash}",
    response_class=Response,
    responses={
        200: {
            "content": {"application/json": _DOCUMENT_BODY["content"]["application/json"]},
            "description": "The document in its canonical bytes (RFC 8785), which hash to it",
        },
        **problems(NotFoundError, ServiceUnavailableError),
    },
)
def get_capabilities(document_hash: DocumentHash, session: SessionDep) -> Response:
    """The stored capability document with this hash, as the bytes that hash to it."""
    key = document_hash.lower()
    text = document_text(session, key)
    if text is None:
        raise NotFoundError(f"no capability document {key} is stored")
    return Response(text.encode(), media_type="application/json")
