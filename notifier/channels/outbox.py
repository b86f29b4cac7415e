"""The file outbox: the embedded default for email and SMS, one file per message."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(folder: Path, name: str, data: bytes) -> Path:
    """Write a file so that readers never see half of it."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
