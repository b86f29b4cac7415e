"""`python -m bench.outage`: Redis away under a working worker, at default settings."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.outage import __doc__ as ABOUT
from bench.outage.scenario import Outage, Stack, redis_outage
from notifier.config import Settings
from notifier.db.migrate import upgrade
from tests.conftest import ADMIN_TOKEN
from tests.faults.harness import Proc, arq_worker, notifier_serve
from tests.faults.outbox import Outbox
from tests.processes import ROOT, env_with, steady_port, wait_http
from tests.servers.redis_server import RestartableRedis
from tests.servers.smtp_server import SmtpServer

# After Redis is back: rows whose send met the rate limiter away wait for their next try
# (NOTIFIER_RETRY_BASE_SECONDS, 30 s, doubling), entries the consumer held unacknowledged
# for NOTIFIER_STREAM_CLAIM_IDLE_SECONDS (60 s).
DRAIN_TIMEOUT = 600.0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.outage",
        description=ABOUT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--down", type=float, default=300.0, help="seconds Redis stays away (300)")
    parser.add_argument("--seed", type=int, default=20, help="the journal's random choices")
    parser.add_argument(
        "--keep", action="store_true", help="keep the working directory (logs, database)"
    )
    args = parser.parse_args(argv)
    if args.down <= 0:
        parser.error("--down must be more than 0 seconds")
    return args


@contextmanager
def processes(tmp: Path) -> Iterator[list[Proc]]:
    """Our commands as child processes, stopped (SIGTERM) on the way out whatever happened."""
    made: list[Proc] = []
    try:
        yield made
    finally:
        for proc in reversed(made):
            proc.stop()


async def run(args: argparse.Namespace, tmp: Path) -> Outage:
    database_url = f"sqlite+aiosqlite:///{tmp / 'notifier.db'}"
    await asyncio.to_thread(upgrade, database_url)
    redis = RestartableRedis(tmp / "redis", port=steady_port(), persistent=True)
    smtp = SmtpServer()
    redis.start()
    smtp.start()
    outbox = Outbox(database_url)
    try:
        with processes(tmp) as made:

            def procs(name: str, argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> Proc:
                proc = Proc(name, argv, env, tmp, cwd)
                made.append(proc)
                return proc

            serve, base = notifier_serve(procs, tmp, database_url, redis.url)
            worker = arq_worker(
                procs,
                env_with(
                    database_url=database_url,
                    redis_url=redis.url,
                    smtp_host=smtp.host,
                    smtp_port=str(smtp.port),
                    email_from="school@notifier.test",
                    coalesce_seconds="0",
                    data_dir=str(tmp / "var"),
                ),
            )
            serve.start()
            worker.start()
            assert serve.proc is not None
            await asyncio.to_thread(wait_http, f"{base}/healthz", serve.proc, serve.log, 90)
            auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            async with httpx.AsyncClient(base_url=base, headers=auth, timeout=30) as api:
                stack = Stack(api, serve, worker, redis, smtp, outbox)
                return await redis_outage(
                    stack, down=args.down, drain_timeout=DRAIN_TIMEOUT, seed=args.seed,
                    progress=True,
                )  # fmt: skip
    finally:
        await outbox.close()
        smtp.stop()
        redis.stop()


def show(result: Outage) -> None:
    yes = {True: "yes", False: "no"}
    retry = Settings.model_fields["redis_retry_seconds"].default
    lines = [
        ("outage", f"{result.down_seconds:.1f} s"),
        ("worker alive", yes[result.worker_alive]),
        ("accepted", f"{result.accepted:,} events ({result.planned:,} messages)"),
        ("delivered", f"{result.delivered:,} messages"),
        ("lost", f"{result.lost:,}"),
        ("duplicated", f"{result.duplicated:,}"),
        ("Redis back → last delivery", f"{result.back_to_last_delivery_s:.1f} s"),
        ("Redis back → API accepts", f"{result.accepted_again_after_s:.1f} s"),
        (
            "while Redis was away",
            f"{result.refused_while_down:,} posts refused, {result.accepted_while_down} "
            f"accepted; /readyz {'/'.join(map(str, sorted(result.readyz_while_down)))}",
        ),
        (
            "worker log",
            f"worker.redis_unavailable ×{result.worker_unavailable}, "
            f"worker.redis_back ×{result.worker_back}, "
            f"consumer.redis_unavailable ×{result.consumer_unavailable}, "
            f"consumer.redis_back ×{result.consumer_back}",
        ),
        ("worker exit status (SIGTERM)", str(result.worker_exit)),
    ]
    print(f"Redis outage, default settings (NOTIFIER_REDIS_RETRY_SECONDS={retry:g}):")
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        print(f"  {name:<{width}}  {value}")
    print(
        f"outage: down_s={result.down_seconds:.1f} worker_alive={yes[result.worker_alive]} "
        f"accepted={result.accepted} delivered={result.delivered} lost={result.lost} "
        f"duplicated={result.duplicated} "
        f"back_to_last_delivery_s={result.back_to_last_delivery_s:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    tmp = Path(tempfile.mkdtemp(prefix="notifier-outage-"))
    print(f"Redis away for {args.down:.0f} s under `notifier worker` (working directory {tmp})")
    ok = False
    try:
        result = asyncio.run(run(args, tmp))
        show(result)
        ok = (
            result.worker_alive
            and result.worker_exit == 0
            and result.lost == 0
            and result.duplicated == 0
        )
    finally:
        if ok and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs and database kept in {tmp}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
