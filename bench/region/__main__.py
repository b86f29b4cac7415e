"""`python -m bench.region`: the command line (see the package's docstring)."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from bench.region import __doc__ as ABOUT
from bench.region.benchmark import bench
from notifier.embedded import EmbeddedRedis


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.region", description=ABOUT.split("\n\n")[0]
    )
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--classes", type=int, default=600)
    parser.add_argument("--pupils", type=int, default=15_000)
    parser.add_argument("--guardians", type=int, default=22_000)
    parser.add_argument("--events", type=int, default=6_000, help="replayed as fast as possible")
    parser.add_argument("--post-events", type=int, default=2_000, help="sent by POST /v1/events")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s of the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument(
        "--marks-events",
        type=int,
        default=4_000,
        help="marks alone, replayed as fast as possible (0: skip the phase)",
    )
    parser.add_argument(
        "--telegram-events",
        type=int,
        default=3_000,
        help="marks whose every message goes by Telegram, replayed as fast as possible "
        "(0: skip the phase)",
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--consumer",
        choices=["thread", "process"],
        default="thread",
        help="where each worker runs its stream consumer (NOTIFIER_CONSUMER); a process's CPU "
        "and memory count as its worker's",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate-limits", action="store_true", help="the default rate limits on")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-day-figures",
        action="store_true",
        help="skip the day's messages per guardian and the default-settings simulation "
        "(about a minute): for quick runs of the service's own figures",
    )
    parser.add_argument(
        "--ceiling-size", type=int, default=5000, help="messages per bare-client ceiling"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a phase may take")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="notifier-region-"))
    with EmbeddedRedis(folder) as redis_server:
        if args.database == "postgres":
            from tests.servers.postgres_server import PostgresServer, create_database

            # pg_stat_statements: the bench prints where the database's time went.
            with PostgresServer({"shared_preload_libraries": "pg_stat_statements"}) as pg:
                url = create_database(pg.start(), "region")
                asyncio.run(bench(args, folder, url, redis_server.url))
        else:
            asyncio.run(
                bench(args, folder, f"sqlite+aiosqlite:///{folder / 'region.db'}", redis_server.url)
            )


if __name__ == "__main__":
    main()
