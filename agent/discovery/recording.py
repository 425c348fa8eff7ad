"""Record and replay a vendor library's answers at its Python boundary.

A recording is JSON::

    {"source": "where the values come from", "library": "pynvml",
     "calls": [{"fn": "nvmlDeviceGetName", "args": [{"$handle": "gpu0"}], "ret": "NVIDIA H100"},
               {"fn": "nvmlDeviceGetSerial", "args": [{"$handle": "gpu1"}], "error": 3}]}

Opaque handles are named (``{"$handle": ...}``), ctypes structures become
``{"$struct": name, "fields": {...}}``, byte strings ``{"$bytes": text}``. An ``error`` is the
library's error code (NVML) or ``{"class": ..., "code": ...}`` for other libraries.

:class:`Recorder` wraps a real module and writes such a file; :class:`ReplayModule` answers from
one. Discovery code cannot tell the replay from the library, so a recording taken on a real host
tests the same code paths that run there.
"""

from __future__ import annotations

import ctypes
import json
import types
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent.errors import RecordingError

Json = Any


class Handle:
    """An opaque handle replayed from a recording."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Handle({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Handle) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("handle", self.name))


class Struct(types.SimpleNamespace):
    """A replayed C structure: its fields as attributes."""


def _freeze(value: Json) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _key(fn: str, args: list[Json]) -> tuple[Any, ...]:
    return (fn, _freeze(args))


def _decode(value: Json) -> Any:
    if isinstance(value, dict):
        if "$handle" in value:
            return Handle(value["$handle"])
        if "$bytes" in value:
            return str(value["$bytes"]).encode()
        if "$struct" in value:
            return Struct(**{k: _decode(v) for k, v in value["fields"].items()})
        if "$tuple" in value:
            return tuple(_decode(v) for v in value["$tuple"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _encode_arg(value: Any) -> Json:
    if isinstance(value, Handle):
        return {"$handle": value.name}
    if isinstance(value, bytes):
        return {"$bytes": value.decode(errors="replace")}
    if isinstance(value, list | tuple):
        return [_encode_arg(v) for v in value]
    return value


class ReplayModule:
    """Stands in for a vendor module, answering each call from a recording.

    Args:
        recording: the parsed recording.
        base: a module supplying constants and exception classes (for NVML, the real ``pynvml``,
            which is pure Python and needs no driver to import).
        error_factory: builds the exception for a recorded error.
    """

    def __init__(
        self,
        recording: Mapping[str, Json],
        *,
        base: Any = None,
        error_factory: Callable[[Json], BaseException] | None = None,
    ) -> None:
        self._recording = recording
        self._base = base
        self._error_factory = error_factory or (lambda e: RuntimeError(str(e)))
        self._answers: dict[tuple[Any, ...], Mapping[str, Json]] = {}
        self._functions: set[str] = set()
        #: how often each function was called (a count, not a log: a replaying agent polls for
        #: as long as it runs)
        self.calls: Counter[str] = Counter()
        for call in recording.get("calls", []):
            self._answers[_key(call["fn"], call.get("args", []))] = call
            self._functions.add(call["fn"])

    @classmethod
    def load(cls, path: Path, **kwargs: Any) -> ReplayModule:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise RecordingError(f"cannot read recording {path}: {exc}") from exc
        return cls(data, **kwargs)

    @property
    def source(self) -> str:
        return str(self._recording.get("source", ""))

    def answer(self, fn: str, *args: Any) -> Any:
        """Answer one call: its recorded value, or raise its recorded error."""
        self.calls[fn] += 1
        call = self._answers.get(_key(fn, [_encode_arg(a) for a in args]))
        if call is None:
            raise RecordingError(f"the recording has no answer for {fn}{args!r}")
        if "error" in call:
            raise self._error_factory(call["error"])
        return _decode(call.get("ret"))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        recorded = name in self._functions
        base_value = getattr(self._base, name, None) if self._base is not None else None
        if recorded or (base_value is not None and callable(base_value) and _is_api(name)):

            def call(*args: Any) -> Any:
                return self.answer(name, *args)

            return call
        if base_value is not None:
            return base_value
        raise AttributeError(name)


def _is_api(name: str) -> bool:
    return name.startswith(("nvml", "amdsmi_"))


def nvml_replay(recording: Mapping[str, Json]) -> ReplayModule:
    """A replay of ``pynvml`` whose errors are the real ``pynvml.NVMLError`` subclasses."""
    import pynvml

    def error(code: Json) -> BaseException:
        error: BaseException = pynvml.NVMLError(int(code))
        return error

    return ReplayModule(recording, base=pynvml, error_factory=error)


class AmdSmiException(Exception):
    """Mirrors ``amdsmi.AmdSmiException`` for replays on hosts without amdsmi."""


class AmdSmiLibraryException(AmdSmiException):
    def __init__(self, err_code: int) -> None:
        self.err_code = err_code
        super().__init__(f"AMDSMI error code {err_code}")

    def get_error_code(self) -> int:
        return self.err_code


def amdsmi_replay(recording: Mapping[str, Json]) -> ReplayModule:
    """A replay of ``amdsmi``; errors are raised as ``AmdSmiLibraryException``."""
    base = types.SimpleNamespace(
        AmdSmiException=AmdSmiException, AmdSmiLibraryException=AmdSmiLibraryException
    )

    def error(value: Json) -> BaseException:
        code = value.get("code", -1) if isinstance(value, dict) else int(value)
        return AmdSmiLibraryException(int(code))

    return ReplayModule(recording, base=base, error_factory=error)


def command_replay(recording: Mapping[str, Json]) -> Callable[[list[str]], str]:
    """A command runner answering from recorded stdout (``{"fn": "run", "args": [argv]}``)."""
    module = ReplayModule(recording)

    def run(argv: list[str]) -> str:
        return str(module.answer("run", list(argv)))

    return run


# --------------------------------------------------------------------------- recording


def _encode_value(value: Any, handles: dict[int, str], prefix: str) -> Json:
    if isinstance(value, Handle):
        return {"$handle": value.name}
    if isinstance(value, Struct):
        fields = {k: _encode_value(v, handles, prefix) for k, v in vars(value).items()}
        return {"$struct": "replayed", "fields": fields}
    if isinstance(value, bytes):
        return {"$bytes": value.decode(errors="replace")}
    if isinstance(value, ctypes.Structure):
        fields = {
            name: _encode_value(getattr(value, name), handles, prefix)
            for name, *_ in value._fields_
        }
        return {"$struct": type(value).__name__, "fields": fields}
    if isinstance(value, ctypes._Pointer | ctypes.c_void_p):
        address = ctypes.cast(value, ctypes.c_void_p).value or 0
        if address not in handles:
            handles[address] = f"{prefix}{len(handles)}"
        return {"$handle": handles[address]}
    if isinstance(value, tuple):
        return {"$tuple": [_encode_value(v, handles, prefix) for v in value]}
    if isinstance(value, list):
        return [_encode_value(v, handles, prefix) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode_value(v, handles, prefix) for k, v in value.items()}
    if isinstance(value, ctypes._SimpleCData):
        return value.value
    return value


class Recorder:
    """Wraps a real vendor module and writes down every call and its answer.

    Pass the recorder wherever the backend expects the module; then :meth:`dump`.
    """

    def __init__(self, module: Any, *, source: str, error_code: Callable[[BaseException], Json]):
        self._module = module
        self._source = source
        self._error_code = error_code
        self._handles: dict[int, str] = {}
        self._handle_objects: dict[str, Any] = {}
        self.calls: list[dict[str, Json]] = []

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            encoded_args = [_encode_value(a, self._handles, "h") for a in args]
            entry: dict[str, Json] = {"fn": name, "args": encoded_args}
            try:
                result = fn(*args)
            except Exception as exc:
                code = self._error_code(exc)
                if code is None:
                    raise
                entry["error"] = code
                self.calls.append(entry)
                raise
            entry["ret"] = _encode_value(result, self._handles, "h")
            self.calls.append(entry)
            return result

        return call

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._module, name)
        if callable(value) and _is_api(name):
            return self._wrap(name, value)
        return value

    def recording(self) -> dict[str, Json]:
        unique: dict[tuple[Any, ...], dict[str, Json]] = {}
        for entry in self.calls:
            unique.setdefault(_key(entry["fn"], entry["args"]), entry)
        return {"source": self._source, "calls": list(unique.values())}

    def dump(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.recording(), indent=1) + "\n")
