"""What a worker process holds while it runs, opened in arq's `on_startup` and closed in its
`on_shutdown` (one place per process): the settings, the runtime, the delivery dispatcher, the
stream consumer (a thread, or a child process) and the worker's own /metrics port.

ctx flags set by whoever builds the worker (see runner.py): `settings` and `runtime` given
instead of built, `owns_runtime` False when the caller closes the runtime, `logging_ready`
when logging is configured already, `run_consumer` False for a worker without the consumer."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

from prometheus_client import start_http_server

from notifier import event_loop
from notifier.channels.smpp import SmppGateway
from notifier.config import ConsumerMode, Settings, load_settings
from notifier.errors import TransientDelivery
from notifier.events.consumer import ConsumerThread
from notifier.intake_runtime import build_intake
from notifier.logs import setup_logging
from notifier.runtime import Runtime, build_runtime
from notifier.worker.consumer_process import ConsumerProcess
from notifier.worker.jobs import deliver_now

log = logging.getLogger("notifier.worker")


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or load_settings()
    ctx["settings"] = settings
    if not ctx.get("logging_ready"):
        setup_logging(settings)
    runtime: Runtime = ctx.get("runtime") or build_runtime(settings)
    ctx["runtime"] = runtime
    ctx["dispatcher"] = dispatcher = runtime.dispatcher()
    await dispatcher.warm_up()
    await _bind_smpp(runtime)
    if ctx.get("run_consumer", True):
        ctx["consumer"] = consumer = await _start_consumer(ctx, settings, runtime)
        if isinstance(consumer, ConsumerThread):  # a child process has a GIL of its own
            dispatcher.consumer_storing = consumer.storing
    if settings.worker_metrics_port and not ctx.get("metrics_served"):
        # The API's /metrics counts what the API did and reads the shared gauges; what this
        # process consumed and sent is counted here.
        start_http_server(settings.worker_metrics_port, addr=settings.http_host)
        ctx["metrics_served"] = True
    settle_heap()
    log.info(
        "worker.started",
        extra={"consumer": bool(ctx.get("run_consumer", True)), "loop": event_loop.running()},
    )


def settle_heap() -> None:
    """What startup built (modules, templates, fonts, the settings) goes to the collector's
    permanent generation: a full collection no longer walks it. In bench.region a worker made
    43 full collections in a run, 4.1 s in all and up to 222 ms each (every message in flight
    waits out such a pause: the worst of the latency's p99); frozen, 0.9 s and 88 ms at most."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


# A young collection after this many new container objects, where CPython 3.11 waits for 700. A
# worker makes and drops thousands a batch (rows, futures, ORM states), nearly all freed by their
# reference counts anyway. In a bench.region run (--runs 1 --no-day-figures --post-events 0
# --events 3000 --latency-seconds 5) its collections took 0.56 s in all at 700: 2,134 young and 17
# full, the longest 16 ms; at 10,000, 0.24 s: 75 young and none full, the longest 8 ms.
GC_YOUNG_THRESHOLD = 10_000


async def _bind_smpp(runtime: Runtime) -> None:
    """An SMPP bind is opened at start, not at the first SMS: receipts of what an earlier run
    sent wait at the SMSC for a bind to arrive on. A refused bind is logged and retried by
    the gateway; the worker starts anyway (the other channels work)."""
    sms = runtime.channels.get("sms")
    gateway = getattr(sms, "gateway", None)
    if isinstance(gateway, SmppGateway):
        try:
            await gateway.start()
        except TransientDelivery as exc:
            log.warning("worker.smpp_not_bound", extra={"error": exc.reason})


async def shutdown(ctx: dict[str, Any]) -> None:
    if consumer := ctx.get("consumer"):
        await asyncio.to_thread(consumer.stop, 10)
    # The consumer's runs: cancelled, each still records the groups it has out.
    kicks: set[asyncio.Task[None]] = ctx.get("kicks", set())
    for task in kicks:
        task.cancel()
    if kicks:
        await asyncio.wait(kicks)
    if ctx.get("owns_runtime", True) and (runtime := ctx.get("runtime")):
        await runtime.close()


async def _start_consumer(
    ctx: dict[str, Any], settings: Settings, runtime: Runtime
) -> ConsumerThread | ConsumerProcess:
    """The stream consumer on its own thread (or in a child process: NOTIFIER_CONSUMER),
    kicking a delivery run on this loop whenever it planned messages (so they go out now, not
    at the next tick)."""
    loop = asyncio.get_running_loop()
    # Held until done: the loop keeps only weak references to its tasks.
    kicks: set[asyncio.Task[None]] = ctx.setdefault("kicks", set())

    def kick() -> None:  # called on the consumer's thread
        def on_loop() -> None:
            task = loop.create_task(deliver_now(ctx))
            kicks.add(task)
            task.add_done_callback(kicks.discard)

        loop.call_soon_threadsafe(on_loop)

    consumer: ConsumerThread | ConsumerProcess
    if settings.consumer == ConsumerMode.process:
        consumer = ConsumerProcess(settings=settings, loop=loop, on_planned=kick)
    else:
        consumer = ConsumerThread(
            build=lambda: build_intake(settings, clock=runtime.clock), on_planned=kick
        )
    await asyncio.to_thread(consumer.start)
    return consumer
