"""The whole benchmark: the school built, `notifier serve` started, the pages measured."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bench.console.pages import (
    HTMX,
    Browser,
    Request,
    Timing,
    measure,
    sign_in,
    summary_line,
)
from bench.console.school import ADMIN, School, build, dispatch_settings, teacher_of
from bench.region.processes import Service, Sink
from notifier.db.engine import create_engine, session_factory
from notifier.db.migrate import upgrade
from notifier.db.models import Notification
from notifier.embedded import free_port


async def prepare(
    args: argparse.Namespace,
    folder: Path,
    database_url: str,
    redis_url: str,
    telegram: dict[str, str],
) -> tuple[School, dict[str, str]]:
    """The school in the database, and a session cookie for its first class teacher and its
    admin."""
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        started = time.perf_counter()
        settings = dispatch_settings(database_url, redis_url, folder, telegram)
        school = await build(args, database_url, sessions, settings, datetime.now(UTC))
        async with sessions() as s:
            rows = dict(
                (
                    await s.execute(
                        select(Notification.status, func.count()).group_by(Notification.status)
                    )
                ).all()
            )
        region = school.region
        print(
            f"school: {len(school.class_ids)} classes, {len(region.pupils):,} pupils, "
            f"{len(region.guardians):,} guardians "
            f"({', '.join(f'{k} {v}' for k, v in region.channels.most_common())}; "
            f"{len(region.consented):,} with consent); {school.events:,} journal events over "
            f"{args.weeks} week(s) and this one; outbox "
            f"{', '.join(f'{k} {v:,}' for k, v in sorted(rows.items()))}; "
            f"built in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        now = datetime.now(UTC)
        cookies = {
            "teacher": await sign_in(sessions, teacher_of(school.class_ids[0]), now),
            "admin": await sign_in(sessions, ADMIN, now),
        }
    finally:
        await engine.dispose()
    return school, cookies


def requests(school: School) -> list[tuple[str, Request]]:
    """Who asks for what: the class teacher's pages, the admin's, then the two downloads."""
    c = school.class_ids[0]
    preview = {
        "class_id": c,
        "text": "Уважаемые родители! В четверг в 18:00 родительское собрание в кабинете 21.",
        "when": "now",
        "key": "bench-console",
    }
    return [
        ("teacher", Request("home", "GET", "/console/")),
        ("teacher", Request("class reach", "GET", f"/console/classes/{c}")),
        ("teacher", Request("compose", "GET", f"/console/announcements/new?class_id={c}")),
        (
            "teacher",
            Request("preview (htmx)", "POST", "/console/announcements/preview", preview, HTMX),
        ),
        ("teacher", Request("announcements", "GET", "/console/announcements")),
        ("teacher", Request("report", "GET", f"/console/announcements/{school.report_id}")),
        ("teacher", Request("summary.html", "GET", f"/console/classes/{c}/summary.html")),
        ("admin", Request(f"home ({len(school.class_ids)} classes)", "GET", "/console/")),
        ("admin", Request("class reach", "GET", f"/console/classes/{c}")),
        ("admin", Request(f"staff ({len(school.class_ids) + 1})", "GET", "/console/staff")),
        ("teacher", Request("summary.pdf", "GET", f"/console/classes/{c}/summary.pdf", pdf=True)),
        (
            "teacher",
            Request("invitations", "POST", f"/console/classes/{c}/invitations", {}, pdf=True),
        ),
    ]


def run(args: argparse.Namespace, folder: Path, database_url: str, redis_url: str) -> None:
    sink = Sink("telegram")  # getMe for the invitation slips' deep links; the dispatcher's sends
    service = None
    try:
        school, cookies = asyncio.run(prepare(args, folder, database_url, redis_url, sink.address))
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
        settings = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "HTTP_PORT": str(port),
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "DATA_DIR": str(folder / "var"),
            "TELEGRAM_TOKEN": sink.address["token"],
            "TELEGRAM_API_BASE": sink.address["api_base"],
            "LOG_FORMAT": "json",
        }
        env.update({f"NOTIFIER_{k}": v for k, v in settings.items()})
        service = Service(env, 0, folder)
        asyncio.run(service.ready())
        timings: list[Timing] = []
        base = f"http://127.0.0.1:{port}"
        print(
            f"each page {args.requests} times after {args.warmup} warm-up requests, one at a "
            f"time (database {args.database}); wall ms:",
            flush=True,
        )
        browsers = {who: Browser.open(who, base, cookie) for who, cookie in cookies.items()}
        try:
            for who, request in requests(school):
                timing = measure(
                    browsers[who],
                    request,
                    api_pid=service.api.pid,
                    warmup=args.warmup,
                    times=args.requests,
                )
                service.check()
                timings.append(timing)
                print(timing.line(), flush=True)
        finally:
            for browser in browsers.values():
                browser.client.close()
        print(summary_line(timings))
    finally:
        if service is not None:
            service.stop()
        sink.stop()
