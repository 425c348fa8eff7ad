"""Logging of every role: readable lines for a terminal, or one JSON object a line.

Each role's command calls :func:`setup` once with its name and the format (``--log-format``, else
``DEPIN_LOG_FORMAT``, else ``text``). A JSON line carries ``ts`` (UTC, ISO 8601), ``level``,
``service``, ``logger``, ``event`` (the message) and any fields given with ``extra=``; an
exception adds ``exc``. uvicorn's own loggers go through the same handler
(:func:`uvicorn_config` for its worker processes).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any, Literal

__all__ = ["FORMATS", "JsonFormatter", "setup", "uvicorn_config"]

LogFormat = Literal["text", "json"]
FORMATS: tuple[str, ...] = ("text", "json")
ENV = "DEPIN_LOG_FORMAT"

#: attributes every LogRecord has; anything else on a record came from ``extra=``
_RESERVED = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName", "color_message"}
)


def resolve(given: str | None) -> LogFormat:
    """The format in effect: ``given``, else ``DEPIN_LOG_FORMAT``, else ``text``."""
    value = (given or os.environ.get(ENV) or "text").strip().lower()
    return "json" if value == "json" else "text"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts``, ``level``, ``service``, ``logger``, ``event``, extras."""

    def __init__(self, service: str = "depin", fields: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.service = service
        self.fields = dict(fields or {})

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "event": record.getMessage(),
            **self.fields,
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (a test runner may swap it)."""

    depin = True

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def _iso(created: float) -> str:
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def _text(label: str) -> str:
    return f"%(asctime)s {label} %(message)s"


def formatter(
    service: str, fmt: LogFormat, fields: dict[str, Any] | None = None, label: str | None = None
) -> logging.Formatter:
    """JSON lines, or ``<time> <label> <message>`` (``label``: the service by default)."""
    if fmt == "json":
        return JsonFormatter(service, fields)
    return logging.Formatter(_text(label or service))


def setup(
    service: str,
    fmt: str | None = None,
    *,
    level: int | str = logging.INFO,
    stream: Any = None,
    fields: dict[str, Any] | None = None,
    label: str | None = None,
) -> LogFormat:
    """Configures the root logger for ``service``: one handler on stderr (or ``stream``) in the
    chosen format, replacing the one an earlier call added; httpx's per-request lines are kept
    at WARNING. Returns the format in effect.

    Args:
        service: the role (``oracle``, ``indexer``, ``api``, ``agent``), each JSON line's
            ``service``.
        fmt: ``text`` or ``json``; ``None``: ``DEPIN_LOG_FORMAT``, else ``text``.
        fields: more fields on every JSON line (e.g. the oracle node's name).
        label: what a text line names after its time (the service by default).
    """
    chosen = resolve(fmt)
    handler: logging.Handler
    if stream is None:
        handler = _Stderr()
    else:
        handler = logging.StreamHandler(stream)
        handler.depin = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter(service, chosen, fields, label))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "depin", False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # alembic says which of its plugins it set up at INFO on every migration check
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    return chosen


def uvicorn_config(service: str, fmt: str | None, level: str = "info") -> dict[str, Any]:
    """A ``logging.dictConfig`` for uvicorn's ``log_config``: uvicorn applies it in each worker
    process, so every worker logs in the same format as the parent."""
    chosen = resolve(fmt)
    if chosen == "json":
        fmt_config: dict[str, Any] = {"()": "depin.logs.JsonFormatter", "service": service}
    else:
        fmt_config = {"format": _text(service)}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"depin": fmt_config},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "depin",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
            "httpx": {"level": "WARNING"},
        },
    }


def option(func: Any) -> Any:
    """``--log-format text|json`` (``DEPIN_LOG_FORMAT``), for each role's long-running command."""
    import click

    return click.option(
        "--log-format",
        type=click.Choice(FORMATS),
        default=None,
        envvar=ENV,
        help="Log lines as text or one JSON object a line [DEPIN_LOG_FORMAT; default text].",
    )(func)
