"""`python -m bench.console`: the command line (see the package's docstring)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench.console import __doc__ as ABOUT
from bench.console.benchmark import run
from notifier.embedded import EmbeddedRedis


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.console", description=ABOUT.split("\n\n")[0]
    )
    parser.add_argument("--pupils", type=int, default=1500)
    parser.add_argument("--classes", type=int, default=50)
    parser.add_argument("--weeks", type=int, default=2, help="of journal before this one")
    parser.add_argument("--requests", type=int, default=50, help="measured, per page")
    parser.add_argument("--warmup", type=int, default=5, help="requests per page first")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.weeks < 1 or args.requests < 1:
        parser.error("--weeks and --requests: at least 1 (the summaries print the last week)")
    folder = Path(tempfile.mkdtemp(prefix="notifier-console-"))
    try:
        with EmbeddedRedis(folder) as redis_server:
            if args.database == "postgres":
                from tests.servers.postgres_server import PostgresServer, create_database

                with PostgresServer() as pg:
                    run(args, folder, create_database(pg.start(), "console"), redis_server.url)
            else:
                sqlite = f"sqlite+aiosqlite:///{folder / 'console.db'}"
                run(args, folder, sqlite, redis_server.url)
    except BaseException:
        print(f"the API's log and the database are kept in {folder}", file=sys.stderr)
        raise
    # A school's database is about 100 MB: not left behind by a run that went well.
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
