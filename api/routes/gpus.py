"""GPUs: the filtered, sorted, keyset-paginated inventory, one GPU, its attestation history."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from api import inventory
from api.deps import InventoryReadable, SessionDep, SettingsDep
from api.errors import InvalidFilterError, NotFoundError, ServiceUnavailableError
from api.pagecache import PageCache, Snapshot
from api.routes._problems import problems
from api.schemas.common import page_fields
from api.schemas.explorer import AttestationPage, GpuPage, GpuResponse, GpuStatusResponse

router = APIRouter(prefix="/v1/gpus", tags=["gpus"], dependencies=[InventoryReadable])

GpuSort = Literal[
    "gpu_key",
    "-gpu_key",
    "memory",
    "-memory",
    "throughput",
    "-throughput",
    "measured_at",
    "-measured_at",
]
GpuKey = Annotated[
    str,
    Path(
        pattern=r"^0x[0-9a-fA-F]{64}$",
        description="the GPU key (bytes32 hex)",
        examples=["0x8f7a4c3e2d1b0a99887766554433221100ffeeddccbbaa998877665544332211"],
    ),
]
#: a text filter; NUL is refused (PostgreSQL's text cannot hold it)
Text = Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[^\x00]*$")]
#: a dotted version of one to four numbers (``550.54.15``, ``12.4``, ``9.0``)
Version = Annotated[str | None, Query(max_length=35, pattern=r"^\d{1,8}(\.\d{1,8}){0,3}$")]
#: the longest history ``/status`` answers (two weeks of 10-minute epochs)
MAX_STATUS_EPOCHS = 2016


_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "gpu_key,provider,agent,region,...\n0x8f7a...,0x7099...,...\n",
            }
        },
        "description": "A page as JSON; with `Accept: text/csv` (or `format=csv`, for a plain "
        "link a browser downloads), every matching GPU as CSV "
        "(a header row, then the rows in the keyset order of `sort`, streamed in chunks of "
        f"{inventory.EXPORT_CHUNK:,} rows read from one snapshot, whose block is the "
        "`X-As-Of-Block` header; `limit` does not apply, `cursor` starts after a page)",
    }
}


@router.get(
    "",
    response_model=GpuPage,
    responses={**problems(InvalidFilterError, ServiceUnavailableError), **_CSV_RESPONSE},
)
async def list_gpus(
    request: Request,
    settings: SettingsDep,
    vendor: Annotated[Text, Query(description="exact vendor, e.g. nvidia")] = None,
    model: Annotated[Text, Query(description="exact model name")] = None,
    min_memory: Annotated[int | None, Query(ge=0, lt=2**63, description="memory ≥ this")] = None,
    min_throughput: Annotated[
        int | None, Query(ge=0, lt=2**63, description="verified throughput ≥ this")
    ] = None,
    region: Annotated[Text, Query(description="the provider's region")] = None,
    provider: Annotated[
        str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$", description="provider address")
    ] = None,
    online: Annotated[
        bool | None,
        Query(
            description="seen live within the last `online_epochs` epochs; while liveness "
            "lags the chain (`liveness.fresh` false) this filter matches nothing"
        ),
    ] = None,
    available: Annotated[
        bool | None,
        Query(description="online and held by no compute process (false: offline or busy)"),
    ] = None,
    healthy: Annotated[
        bool | None,
        Query(description="online and reported healthy (false: online and unhealthy)"),
    ] = None,
    verified: Annotated[bool | None, Query(description="attested, unexpired and unrevoked")] = None,
    min_driver: Annotated[
        Version,
        Query(
            description="capability document: driver version ≥ this, compared numerically "
            "(535.104 < 550.54); a driver version that is not dotted numbers never matches"
        ),
    ] = None,
    min_cuda: Annotated[
        Version, Query(description="capability document: CUDA version ≥ this (12.10 > 12.9)")
    ] = None,
    min_rocm: Annotated[
        Version, Query(description="capability document: ROCm version ≥ this")
    ] = None,
    min_compute_capability: Annotated[
        Version, Query(description="capability document: CUDA compute capability ≥ this (9.0)")
    ] = None,
    interconnect: Annotated[
        Literal["nvlink", "xgmi", "pcie"] | None,
        Query(
            description="capability document: the GPU's fastest active link to its peers "
            "(pcie: no active NVLink or xGMI link)"
        ),
    ] = None,
    mig: Annotated[
        bool | None, Query(description="capability document: MIG mode enabled (or not)")
    ] = None,
    pcie_gen: Annotated[
        int | None,
        Query(ge=1, le=16, description="capability document: widest PCIe generation ≥ this"),
    ] = None,
    min_host_cpu_cores: Annotated[
        int | None,
        Query(ge=0, le=2**32, description="capability document: the host's logical CPUs ≥ this"),
    ] = None,
    min_host_ram_gib: Annotated[
        int | None,
        Query(ge=0, le=2**32, description="capability document: the host's RAM ≥ this, GiB"),
    ] = None,
    min_host_disk_gib: Annotated[
        int | None,
        Query(ge=0, le=2**32, description="capability document: the host's free disk ≥ this, GiB"),
    ] = None,
    container_runtime: Annotated[
        Literal["docker", "podman", "nvidia-container-toolkit"] | None,
        Query(description="capability document: this container runtime is installed"),
    ] = None,
    min_gpus_per_host: Annotated[
        int | None,
        Query(ge=1, le=256, description="capability document: GPUs on the same host ≥ this"),
    ] = None,
    online_epochs: Annotated[
        int | None, Query(ge=1, le=10_000, description="K for `online` (server default 3)")
    ] = None,
    sort: Annotated[
        GpuSort,
        Query(
            description="field, `-` for descending; the default (gpu_key) is the cheapest "
            "stable order"
        ),
    ] = "gpu_key",
    limit: Annotated[int | None, Query(ge=1, le=200, description="page size")] = None,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page")
    ] = None,
    output: Annotated[
        Literal["json", "csv"] | None,
        Query(
            alias="format",
            description="`csv`: every matching GPU as a CSV download, as with `Accept: text/csv` "
            "(for a link); `json` or absent: a page, unless the Accept header asks for CSV",
        ),
    ] = None,
) -> Response:
    """GPUs matching every given filter, `sort`ed, one keyset page at a time, with the total:
    exact (`total_exact` true) when the API's in-memory GPU index answers, as it does once
    built at start-up; from SQL, exact up to 1,000 matching GPUs and an estimate beyond
    (`total_exact` false). With `Accept: text/csv` or `format=csv`, every matching GPU as CSV
    instead of a page.

    The capability filters (`min_driver` to `min_gpus_per_host`) read the host's capability
    document that the GPU's latest attestation names: a GPU whose document the API does not
    hold (yet) matches none of them."""
    from eth_utils import to_checksum_address

    size = min(limit or settings.default_page_size, settings.max_page_size)
    filters = inventory.GpuFilters(
        vendor=vendor,
        model=model,
        min_memory=min_memory,
        min_throughput=min_throughput,
        region=region,
        provider=to_checksum_address(provider) if provider else None,
        online=online,
        verified=verified,
        online_epochs=online_epochs or settings.online_epochs,
        available=available,
        healthy=healthy,
        min_driver=min_driver,
        min_cuda=min_cuda,
        min_rocm=min_rocm,
        min_compute_capability=min_compute_capability,
        interconnect=interconnect,
        mig=mig,
        pcie_gen=pcie_gen,
        min_host_cpu_cores=min_host_cpu_cores,
        min_host_ram_gib=min_host_ram_gib,
        min_host_disk_gib=min_host_disk_gib,
        container_runtime=container_runtime,
        min_gpus_per_host=min_gpus_per_host,
    )
    factory = request.app.state.session_factory
    counts = request.app.state.counts
    uptimes = request.app.state.uptimes
    cache: PageCache = request.app.state.gpu_pages
    if output == "csv" or (output is None and "text/csv" in request.headers.get("accept", "")):
        return await _export(factory, filters, sort, cursor)

    def compute(known: Snapshot) -> bytes:
        with factory() as session:
            page = inventory.list_gpus(
                session,
                filters,
                sort=sort,
                limit=size,
                cursor=cursor,
                counts=counts,
                known=known,
                uptimes=uptimes,
                index=request.app.state.gpu_index,
            )
        return _dumps(page_fields(page, "total_exact", "liveness"))

    body = await cache.page((filters, sort, size, cursor), compute)
    return Response(body, media_type="application/json")


async def _export(
    factory: Callable[[], Session], filters: inventory.GpuFilters, sort: str, cursor: str | None
) -> Response:
    """Every matching GPU as CSV, streamed from one read transaction (closed when the stream
    ends or the client goes away)."""
    if cursor is not None:
        inventory.decode_cursor(cursor, sort)  # refused before the first byte is sent
    session = factory()
    try:
        known = await anyio.to_thread.run_sync(inventory.snapshot, session)
    except BaseException:
        session.close()
        raise

    def chunks() -> Iterator[bytes]:
        try:
            yield from inventory.gpu_csv(session, filters, known, sort=sort, cursor=cursor)
        finally:
            session.close()

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={
            "X-As-Of-Block": str(known.block),
            "Content-Disposition": 'attachment; filename="gpus.csv"',
        },
    )


def _dumps(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _no_gpu(gpu_key: str, known: Snapshot) -> NotFoundError:
    return NotFoundError(
        f"no GPU with key {gpu_key} (as of block {known.block})", as_of_block=known.block
    )


@router.get(
    "/{gpu_key}",
    response_model=GpuResponse,
    responses=problems(NotFoundError, ServiceUnavailableError),
)
def get_gpu(
    gpu_key: GpuKey, request: Request, session: SessionDep, settings: SettingsDep
) -> GpuResponse:
    """One GPU's latest attestation, its liveness and its uptime, and the part of its host's
    capability document about it (`capabilities`, when the API holds the attested one)."""
    item, known = inventory.get_gpu(
        session, gpu_key.lower(), settings.online_epochs, request.app.state.uptimes
    )
    if item is None:
        raise _no_gpu(gpu_key, known)
    capabilities = item.pop("capabilities")
    return GpuResponse.model_validate(
        {
            "gpu": item,
            "liveness": known.liveness(),
            "as_of_block": known.block,
            "capabilities_hash": item.pop("capabilities_hash"),
            "capabilities_present": capabilities is not None,
            "capabilities": capabilities,
        }
    )


@router.get(
    "/{gpu_key}/status",
    response_model=GpuStatusResponse,
    responses=problems(NotFoundError, InvalidFilterError, ServiceUnavailableError),
)
def status(
    gpu_key: GpuKey,
    session: SessionDep,
    epochs: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_STATUS_EPOCHS,
            description="how many epochs, back from the chain's current one (7 days of "
            "10-minute epochs by default)",
        ),
    ] = 1008,
) -> GpuStatusResponse:
    """The GPU's liveness epoch by epoch, newest first: whether the epoch was recorded or is
    missing (no quorum), and in a recorded one whether the GPU was online, available and
    healthy."""
    body, known = inventory.gpu_status(session, gpu_key.lower(), epochs)
    if body is None:
        raise _no_gpu(gpu_key, known)
    return GpuStatusResponse.model_validate({**body, "as_of_block": known.block})


@router.get(
    "/{gpu_key}/attestations",
    response_model=AttestationPage,
    responses=problems(NotFoundError, InvalidFilterError, ServiceUnavailableError),
)
def attestations(
    gpu_key: GpuKey,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_block: Annotated[
        int | None, Query(ge=0, lt=2**63, description="only attestations below this block")
    ] = None,
) -> AttestationPage:
    """The GPU's attestation history, newest first, with the oracles that co-signed each."""
    key = gpu_key.lower()
    if not inventory.gpu_exists(session, key):
        raise NotFoundError(f"no GPU with key {gpu_key}")
    items, block = inventory.gpu_attestations(session, key, limit + 1, before_block)
    more = len(items) > limit
    items = items[:limit]
    return AttestationPage.model_validate(
        {
            "gpu_key": key,
            "items": items,
            "next_before_block": items[-1]["block_number"] if more and items else None,
            "as_of_block": block,
        }
    )
