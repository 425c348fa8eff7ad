"""Record a vendor library's answers on a real GPU host, for replay in tests.

Usage (on the GPU host)::

    python -m agent.discovery.record nvml  tests/fixtures/discovery/nvml_myhost.json \
        --source "8x H100 SXM, driver 550.54.15, recorded on <date>"
    python -m agent.discovery.record amdsmi tests/fixtures/discovery/amdsmi_myhost.json ...

The recording holds every NVML/amdsmi call discovery made and its answer (values only; no
handles' addresses). Serials and UUIDs are real: edit them before publishing if needed.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from agent.discovery._base import Backend
from agent.discovery.amd import AmdSmiBackend
from agent.discovery.nvidia import NvmlBackend
from agent.discovery.recording import Recorder
from agent.errors import RecordingError


def _nvml_code(exc: BaseException) -> Any:
    return getattr(exc, "value", None)


def _amdsmi_code(exc: BaseException) -> Any:
    code = getattr(exc, "err_code", None)
    if code is None and hasattr(exc, "get_error_code"):
        code = exc.get_error_code()
    if code is None:
        return None
    return {"class": type(exc).__name__, "code": int(code)}


def record(library: str, source: str) -> tuple[dict[str, Any], Backend]:
    """Run discovery through a recorder around the real library; return the recording."""
    if library not in ("nvml", "amdsmi"):
        raise RecordingError(f"unknown library {library!r}; use nvml or amdsmi")
    module_name = "pynvml" if library == "nvml" else "amdsmi"
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or OSError from a missing shared library
        raise RecordingError(
            f"cannot record {library}: {module_name} is not importable: {exc}"
        ) from exc
    if library == "nvml":
        recorder = Recorder(module, source=source, error_code=_nvml_code)
        backend: Backend = NvmlBackend(recorder)
    else:
        recorder = Recorder(module, source=source, error_code=_amdsmi_code)
        backend = AmdSmiBackend(recorder)
    result = backend.run()
    data = recorder.recording()
    data["provenance"] = "captured"  # as against the synthetic fixtures built from docs
    data["library"] = module_name
    data["report"] = result.report.model_dump()
    return data, backend


@click.command()
@click.argument("library", type=click.Choice(["nvml", "amdsmi"]))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", required=True, help="Where and when this was recorded.")
def main(library: str, out: Path, source: str) -> None:
    """Record LIBRARY's answers during discovery into OUT (JSON)."""
    data, _ = record(library, source)
    out.write_text(json.dumps(data, indent=1) + "\n")
    click.echo(f"{len(data['calls'])} calls recorded to {out} ({data['report']})", err=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
