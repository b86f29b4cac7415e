"""A worker's startup leaves what it built out of the garbage collector's full collections
(lifecycle._settle_heap): in bench.region those walked the whole heap, up to 222 ms each."""

from __future__ import annotations

import gc
from typing import Any

from notifier.config import Settings
from notifier.runtime import Runtime
from notifier.worker.lifecycle import shutdown, startup


async def test_startup_moves_the_heap_it_built_out_of_full_collections(
    settings: Settings, runtime: Runtime
) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    ctx: dict[str, Any] = {
        "settings": settings,
        "runtime": runtime,
        "owns_runtime": False,
        "logging_ready": True,
        "run_consumer": False,
    }
    await startup(ctx)
    try:
        # Everything the process holds so far: modules, templates, the runtime and its engine.
        assert gc.get_freeze_count() > 10_000
        assert not any(obj is runtime for obj in gc.get_objects())  # frozen: out of every list
    finally:
        gc.unfreeze()
        await shutdown(ctx)
