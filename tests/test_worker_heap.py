"""A worker's startup: it leaves what it built out of the garbage collector's full collections
(lifecycle.settle_heap): in bench.region those walked the whole heap, up to 222 ms each; it
imports no library it only needs for a PDF or a bot's conversation; and it has the record's
statement ready before its first send (Dispatcher.warm_up)."""

from __future__ import annotations

import contextlib
import gc
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from notifier.config import Settings
from notifier.runtime import Runtime
from notifier.worker.lifecycle import shutdown, startup
from tests.processes import ROOT, env_with


@contextlib.asynccontextmanager
async def _started(settings: Settings, runtime: Runtime) -> AsyncIterator[None]:
    """A worker's startup on the test's runtime, without the consumer; shut down after."""
    ctx: dict[str, Any] = {
        "settings": settings,
        "runtime": runtime,
        "owns_runtime": False,
        "logging_ready": True,
        "run_consumer": False,
    }
    threshold = gc.get_threshold()
    await startup(ctx)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        await shutdown(ctx)


async def test_startup_moves_the_heap_it_built_out_of_full_collections(
    settings: Settings, runtime: Runtime
) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    async with _started(settings, runtime):
        # Everything the process holds so far: modules, templates, the runtime and its engine.
        assert gc.get_freeze_count() > 10_000
        assert not any(obj is runtime for obj in gc.get_objects())  # frozen: out of every list


async def test_after_startup_a_batch_of_new_objects_runs_no_young_collection(
    settings: Settings, runtime: Runtime
) -> None:
    collections: list[int] = []

    def counted(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    async with _started(settings, runtime):
        gc.collect()
        gc.callbacks.append(counted)
        try:
            # What a batch's rows are to the collector: container objects held until it ends
            # (at CPython 3.11's threshold of 700, about seven young collections).
            rows = [[n] for n in range(5_000)]
        finally:
            gc.callbacks.remove(counted)
    assert len(rows) == 5_000
    assert collections == []


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_startup_prepares_the_record_before_the_first_send(
    settings: Settings, runtime: Runtime
) -> None:
    """On a busy worker each first-time step of the first record (compiling the statement,
    preparing it on the connection) waited its turn on the loop while messages went; in the
    fault test a kill then sent them again."""
    async with _started(settings, runtime), runtime.engine.connect() as conn:
        raw = await conn.get_raw_connection()  # the one connection the pool holds
        # SQLAlchemy's asyncpg adapter keeps each connection's prepared statements here.
        prepared = raw.dbapi_connection._prepared_statement_cache  # type: ignore[union-attr]
        assert any("WITH mine AS" in sql for sql in prepared), list(prepared)


def test_a_worker_imports_neither_the_pdf_library_nor_aiogram() -> None:
    # fpdf2 with fontTools and Pillow is 21 MB, aiogram 131 MB: imported where a PDF is made
    # (notifier/reports/pdf.py) or a bot is asked for (channels/telegram.py).
    probe = "import sys, worker; print(sorted({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env_with(redis_url="redis://127.0.0.1:1"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for heavy in ("fpdf", "fontTools", "PIL", "aiogram"):
        assert f"'{heavy}'" not in out, heavy
