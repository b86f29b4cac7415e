"""Every log line the suite writes, scanned for personal data and secrets (non-negotiable 4:
logs carry ids, never message text, names, phones, emails or tokens). The records of the test
process are captured by a root handler; the logs of the processes the tests start (workers,
`notifier serve`, the bench's servers) are read from the run's temporary directory."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from notifier.logs import _KeyValueFormatter

# What must never be in a log line, by what it is.
PATTERNS: dict[str, re.Pattern[str]] = {
    "Cyrillic text (a name or message text)": re.compile(r"[А-Яа-яЁё]{2,}"),
    "an email address": re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]*[a-z]"),
    "a phone number": re.compile(r"(?<![\w-])\+?7\d{10}(?!\w)"),
    "an API token": re.compile(r"ntf_[A-Za-z0-9_-]{8,}|test-admin-token"),
    "a bot token": re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b"),
}


# The service's own loggers and the libraries it runs; not the tests' stand-ins for the outside
# world (aiosmtpd's "mail.log", the aiohttp test servers), whose job is to see addresses, nor
# httpx, the tests' own HTTP client (the service keeps httpx at WARNING: notifier/logs.py), whose
# request lines carry whatever the fuzzers put in a URL.
SERVICE_LOGGERS = (
    "root",
    "notifier",
    "bots",
    "worker",
    "aiogram",
    "bot",  # maxapi's loggers: "bot", "connection", "dispatcher", and its retries' "backoff"
    "connection",
    "dispatcher",
    "backoff",
    "arq",
    "uvicorn",
    "fastapi",
    "starlette",
    "aiosmtplib",
    "sqlalchemy",
    "alembic",
    "asyncpg",
    "aiosqlite",
    "redis",
    "babel",
    "fpdf",
    "fontTools",
)


def ours(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in SERVICE_LOGGERS)


# Lines that match a pattern and are still no one's data: aiogram names the bot it polls for
# (the bot's display name is configuration).
ALLOWED = (re.compile(r"aiogram\.dispatcher (Run polling|Polling stopped) for bot @"),)


@dataclass
class Finding:
    where: str
    what: str
    line: str


def scan(lines: Iterable[tuple[str, str]]) -> list[Finding]:
    """(where, line) pairs → what in them looks like personal data or a secret."""
    found = []
    for where, line in lines:
        if any(allowed.search(line) for allowed in ALLOWED):
            continue
        for what, pattern in PATTERNS.items():
            if pattern.search(line):
                found.append(Finding(where, what, line[:300]))
    return found


@dataclass
class Collector(logging.Handler):
    """A root handler that keeps every formatted record of the run."""

    lines: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        logging.Handler.__init__(self, logging.DEBUG)
        self.setFormatter(_KeyValueFormatter())
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if not ours(record.name):
            return
        try:
            text = self.format(record)
        except Exception:  # a record that cannot format is not ours to fail on
            return
        with self._guard:
            self.lines.append((record.name, text))

    __hash__ = logging.Handler.__hash__


def process_logs(base: Path) -> Iterable[tuple[str, str]]:
    """The lines of the `*.log` files the tests' child processes wrote under `base`."""
    for path in sorted(base.rglob("*.log")):
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            yield str(path.relative_to(base)), line
