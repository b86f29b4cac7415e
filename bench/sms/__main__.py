"""`python -m bench.sms`: the command line (see the package's docstring)."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from bench.sms import __doc__ as ABOUT
from bench.sms.benchmark import bench
from notifier.config import SmsProvider
from notifier.embedded import EmbeddedRedis

PROVIDERS = [SmsProvider.http, SmsProvider.smsru, SmsProvider.smsc, SmsProvider.smpp]


def main() -> None:
    assert ABOUT is not None
    parser = argparse.ArgumentParser(
        prog="python -m bench.sms",
        description=ABOUT.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--messages", type=int, default=5000, help="SMS a run, each side")
    parser.add_argument("--warmup", type=int, default=200, help="SMS sent untimed before each")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--providers", default=",".join(PROVIDERS), help="comma-separated")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="NOTIFIER_SMS_RATE_PER_SECOND for ours (0: off)"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL"),
        help="the limiter's Redis (default: $REDIS_URL, else an embedded one)",
    )
    parser.add_argument("--profile", action="store_true", help="one more pass under cProfile")
    args = parser.parse_args()
    for name in args.providers.split(","):
        if name not in PROVIDERS:
            parser.error(f"--providers: {name!r} is none of {', '.join(PROVIDERS)}")
    folder = Path(tempfile.mkdtemp(prefix="notifier-sms-bench-"))
    if args.redis_url:
        asyncio.run(bench(args, args.redis_url, folder))
        return
    with EmbeddedRedis(folder, persistent=False) as redis_server:
        asyncio.run(bench(args, redis_server.url, folder))


if __name__ == "__main__":
    main()
