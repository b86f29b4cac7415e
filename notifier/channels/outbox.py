"""The file outbox: the embedded default for email and SMS, one file per message.

A file is named after its message's reference, `notifier-<row id>`: the id of the first
outbox row of the group it stands for. Every row of a group belongs to one guardian, so the
files of a guardian are found from their rows' ids, and a file name carries no personal data.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection
from datetime import datetime
from enum import StrEnum
from pathlib import Path

TMP_PREFIX = ".tmp-"


class OutboxFolder(StrEnum):
    """A channel's folder under the outbox directory."""

    email = "email"
    sms = "sms"

    @property
    def suffix(self) -> str:
        return ".eml" if self is OutboxFolder.email else ".json"


def message_ref(notification_id: int) -> str:
    """A message's reference (its file name and Message-ID): the first row of its group."""
    return f"notifier-{notification_id}"


def file_name(folder: OutboxFolder, ref: str) -> str:
    return f"{ref}{folder.suffix}"


def write_atomic(folder: Path, name: str, data: bytes) -> Path:
    """Write a file so that readers never see half of it."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=TMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def remove_messages(outbox_dir: Path, notification_ids: Collection[int]) -> int:
    """Delete the files of the messages these rows went in (erasure); returns how many went.
    Any row may have been the first of its group, so each id is tried in every folder."""
    removed = 0
    for folder in OutboxFolder:
        base = outbox_dir / folder
        if not base.is_dir():
            continue
        for ident in notification_ids:
            try:
                (base / file_name(folder, message_ref(ident))).unlink()
            except FileNotFoundError:
                continue
            removed += 1
    return removed


def remove_older_than(outbox_dir: Path, cutoff: datetime) -> int:
    """Delete every file under the outbox last written before `cutoff` (retention), the
    leftovers of a write that crashed too: they hold the same addresses and texts."""
    if not outbox_dir.is_dir():
        return 0
    stamp = cutoff.timestamp()
    removed = 0
    for root, _dirs, files in os.walk(outbox_dir):
        for name in files:
            path = Path(root, name)
            try:
                if path.stat().st_mtime < stamp:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # removed meanwhile (an erasure, another worker)
                continue
    return removed
