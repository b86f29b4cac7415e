"""Structured logging, configured once per process; records carry ids, never personal data."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from notifier.config import LogFormat, Settings

_RESERVED = set(vars(logging.makeLogRecord({})))


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        parts = [f"{k}={_kv(v)}" for k, v in fields.items()]
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        if parts:
            line += " " + " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}


def _kv(value: object) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


def setup_logging(settings: Settings) -> None:
    """Send our logs to stderr in the configured format; call once from an entry point."""
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter = (
        _JsonFormatter() if settings.log_format is LogFormat.json else _KeyValueFormatter()
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    quiet_libraries()


def quiet_libraries() -> None:
    """Third-party loggers that would print message bodies, names or addresses stay quiet
    (the test suite's log scan holds itself to the same levels)."""
    for noisy in (
        "aiosmtplib",
        "aiogram.event",
        "httpx",
        "uvicorn.access",
        "arq.jobs",
        "aiosqlite",
        "sqlalchemy.engine",
        "asyncpg",
        # fontTools' subsetter writes ten lines for each PDF (every glyph it keeps): 200,000
        # lines for a region's Saturday summaries.
        "fontTools",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # maxapi logs under bare names ("bot", "connection", "dispatcher"): at INFO it writes the
    # bot's display name and update details. Its HTTP retries go through `backoff`, which logs
    # each give-up at ERROR; we turn those retries off and report failures ourselves, by id.
    for name in ("bot", "connection", "dispatcher"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("backoff").setLevel(logging.CRITICAL)
    # arq's command line gives its loggers a handler of their own: one handler (ours) only,
    # and no line per job run (the every-second cron would write two lines a second).
    # Failed jobs are logged at WARNING and above, so they still show.
    for name in ("arq", "arq.worker"):
        logging.getLogger(name).handlers[:] = []
    logging.getLogger("arq.worker").setLevel(logging.WARNING)
