"""The runs: per provider its server started, ours and the ceiling measured in turn, the
figures printed; then the medians."""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from bench.region.processes import Sink
from bench.sms.bare import bare_http, bare_smpp
from bench.sms.measure import Figure
from bench.sms.ours import channel_settings, ours
from bench.sms.workload import Message, messages, segments_label
from notifier.config import Settings, SmsProvider

# The sink (bench/sinks.py) that serves each provider.
SINKS = {
    SmsProvider.http: "sms",
    SmsProvider.smsru: "smsru",
    SmsProvider.smsc: "smsc",
    SmsProvider.smpp: "smpp",
}


@dataclass(frozen=True)
class Run:
    ours: Figure
    ceiling: Figure

    @property
    def ratio(self) -> float:
        return self.ours.per_second / self.ceiling.per_second


async def ceiling(
    settings: Settings, sink: Sink, warmup: list[Message], batch: list[Message]
) -> Figure:
    pid = sink.proc.pid
    if settings.sms_provider is SmsProvider.smpp:
        return await bare_smpp(sink.address, warmup, batch, settings.smpp_window, pid)
    return await bare_http(
        settings.sms_provider, sink.address, warmup, batch, settings.delivery_concurrency, pid
    )


def _received(sink: Sink, expected: int, what: str) -> None:
    """The server got every message sent, once: else the figure counts something else."""
    got = sink.ask("count")["n"]
    sink.ask("clear")
    if got != expected:
        raise RuntimeError(f"{what}: the {sink.kind} server received {got} of {expected} SMS")


async def provider_runs(
    provider: SmsProvider, args: argparse.Namespace, redis: Redis, folder: Path
) -> list[Run]:
    sink = Sink(SINKS[provider])
    try:
        settings = channel_settings(provider, sink.address, rate=args.rate, data_dir=folder)
        warmup = messages(args.warmup, start=args.messages)
        batch = messages(args.messages)
        runs = []
        for i in range(args.runs):
            # Alternating which goes first, so that a drift of the machine favours neither.
            figures: dict[str, Figure] = {}
            for side in ("ours", "ceiling") if i % 2 == 0 else ("ceiling", "ours"):
                if side == "ours":
                    figures[side] = await ours(
                        settings,
                        redis,
                        warmup,
                        batch,
                        run=f"{provider}-{i}",
                        server_pid=sink.proc.pid,
                    )
                else:
                    figures[side] = await ceiling(settings, sink, warmup, batch)
                _received(sink, len(warmup) + len(batch), f"{provider} {side} run {i + 1}")
            run = Run(figures["ours"], figures["ceiling"])
            runs.append(run)
            print(f"  sms/{provider} run {i + 1}: {_figures(run)}", flush=True)
        if args.profile:
            await _profile(settings, redis, warmup, batch, sink)
            sink.ask("clear")
        return runs
    finally:
        sink.stop()


def _figures(run: Run) -> str:
    return (
        f"ours={run.ours.per_second:.0f}/s ceiling={run.ceiling.per_second:.0f}/s "
        f"ratio={run.ratio:.2f} cpu={run.ours.cpu_ms_per_sms:.3f} ms/sms "
        f"(ceiling {run.ceiling.cpu_ms_per_sms:.3f} ms/sms); server busy "
        f"{run.ours.server_cores:.2f} cores with ours, {run.ceiling.server_cores:.2f} with the "
        "ceiling"
    )


def median_line(provider: SmsProvider, runs: list[Run]) -> str:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    ours_rate = med([r.ours.per_second for r in runs])
    ceiling_rate = med([r.ceiling.per_second for r in runs])
    return (
        f"sms/{provider}: ours={ours_rate:.0f}/s ceiling={ceiling_rate:.0f}/s "
        f"ratio={med([r.ratio for r in runs]):.2f} "
        f"cpu={med([r.ours.cpu_ms_per_sms for r in runs]):.3f} ms/sms "
        f"(ceiling {med([r.ceiling.cpu_ms_per_sms for r in runs]):.3f} ms/sms)"
    )


async def _profile(
    settings: Settings, redis: Redis, warmup: list[Message], batch: list[Message], sink: Sink
) -> None:
    provider = settings.sms_provider
    profile = cProfile.Profile()
    profile.enable()
    figure = await ours(
        settings, redis, warmup, batch, run=f"{provider}-profile", server_pid=sink.proc.pid
    )
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(20)
    print(f"  sms/{provider} under cProfile ({figure.per_second:.0f}/s): top 20 by own time")
    for line in out.getvalue().splitlines():
        if line.strip() and not line.lstrip().startswith(("Ordered by", "List reduced")):
            print("    " + line)


async def bench(args: argparse.Namespace, redis_url: str, folder: Path) -> None:
    providers = [SmsProvider(p) for p in args.providers.split(",")]
    redis = Redis.from_url(redis_url)
    try:
        await redis.ping()  # the limiter's Redis is there before anything is timed
        sample = Settings(data_dir=folder)  # the defaults every provider's settings share
        limits = f"rate limit {args.rate:g}/s" if args.rate > 0 else "rate limits off"
        print(
            f"sms: {args.messages} SMS a run ({segments_label()}, alternating), "
            f"{args.warmup} more before each to warm up; concurrency "
            f"{sample.delivery_concurrency}, SMPP window {sample.smpp_window}, {limits}; "
            f"{args.runs} runs",
            flush=True,
        )
        results = {}
        for provider in providers:
            results[provider] = await provider_runs(provider, args, redis, folder)
        print(f"median of {args.runs} runs:")
        for provider, runs in results.items():
            print(median_line(provider, runs), flush=True)
    finally:
        await redis.aclose()
