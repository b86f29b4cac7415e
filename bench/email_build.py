"""Micro-benchmark of one email's CPU in our process: build it and serialize it for the wire.

    .venv/bin/python -m bench.email_build [--messages 2000] [--runs 3] [--profile] [--send]

Content comes from the real Renderer (`mark_created` in the `_layout`: ~1.2 KB of text and
~4 KB of HTML, Cyrillic, with a teacher's comment and the school's name), rendered once for
five pupils; each of `--messages` guardians (Cyrillic full names, addresses of their own) then
gets one message, timed from `build_email` to the bytes handed to the SMTP client for DATA.
Rendering is timed on its own. Prints the median per-message microseconds of `--runs` runs;
`--profile` adds cProfile's top functions for build+serialize.

The SMTP conversation (MAIL, RCPT, DATA) is not in these figures. `--send` times it apart: the
built messages go through the worker's own `SmtpPool` (4 connections, as EmailChannel opens)
to an aiosmtpd server in a process of its own (`bench.sinks smtp`), and the figure is this
process's CPU per message (time.process_time), the server's not counted, with the messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiosmtplib.email import extract_recipients, extract_sender, flatten_message

from bench.region.processes import Sink
from bench.senders import cpu_per_send
from notifier.channels.base import Recipient
from notifier.channels.email import OutgoingEmail, SmtpPool, build_email
from notifier.config import Settings
from notifier.rendering import PersonView, PupilView, RenderedEmail, Renderer, SchoolView

SENDER = "school@notifier.example.org"
NOW = datetime(2026, 3, 12, 9, 30, tzinfo=UTC)
SUBJECTS = ("Алгебра", "Русский язык", "Литература", "Физика", "История России")
PUPILS = (
    "Иванов Алексей Петрович",
    "Петрова Екатерина Сергеевна",
    "Кузнецов Тимофей",
    "Смирнова-Покровская Александра Владимировна",
    "Ли Артём",
)
COMMENT = (
    "Работа выполнена аккуратно, но в задачах 3 и 5 допущены вычислительные ошибки. "
    "Рекомендую повторить тему «Квадратные уравнения» и решить упражнения 112–118 "
    "из учебника; на следующей неделе будет проверочная работа по этой теме."
)


def contexts() -> list[dict[str, Any]]:
    school = SchoolView("s1", "МБОУ «Средняя общеобразовательная школа № 17»", "Europe/Moscow")
    return [
        {
            "student": PupilView(f"p{i}", pupil),
            "guardian": PersonView(f"g{i}", "Иванова Мария Сергеевна"),
            "school": school,
            "class_name": f"{i + 5}Б",
            "data": {
                "subject": subject,
                "value": str(5 - i % 3),
                "work_type": "контрольная работа",
                "weight": 2,
                "lesson_date": "2026-03-11",
                "teacher": "Смирнова Елена Викторовна",
                "comment": COMMENT,
            },
            "event_time": NOW,
            "previous": None,
        }
        for i, (subject, pupil) in enumerate(zip(SUBJECTS, PUPILS, strict=True))
    ]


GUARDIANS = (
    "Иванова Мария Сергеевна",
    "Петров Сергей Иванович",
    "Кузнецова Анна",
    "Смирнов-Покровский Александр Владимирович",
    "Ли Ольга",
)


def recipients(n: int) -> list[Recipient]:
    return [
        Recipient(
            guardian_id=f"g{i}",
            name=GUARDIANS[i % len(GUARDIANS)],
            email=f"parent.{i}@parents.example.org",
        )
        for i in range(n)
    ]


def build(recipient: Recipient, content: RenderedEmail, i: int) -> Any:
    return build_email(
        sender=SENDER, recipient=recipient, content=content, ref=f"notifier-{i}", now=NOW
    )


def wire(built: Any) -> bytes:
    """The DATA bytes for what `build_email` returned.

    An EmailMessage (what `build_email` returned until it serialized the message itself) is
    flattened as aiosmtplib's `send_message` did it for a relay offering 8BITMIME, envelope
    extraction included; so checking out the old notifier/channels/email.py reproduces the
    figure from before.
    """
    if isinstance(built, EmailMessage):
        extract_sender(built)
        extract_recipients(built)
        return flatten_message(built, utf8=False, cte_type="8bit")
    data: bytes = built.data
    return data


def time_per_message(fn: Callable[[int], object], n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n * 1e6


def send_cpu(emails: list[OutgoingEmail], port: int, connections: int = 4) -> tuple[float, float]:
    """This process's CPU microseconds per message, and messages/s, for sending `emails`
    through SmtpPool to 127.0.0.1:`port` with one sender per connection."""

    async def go() -> tuple[float, float]:
        pool = SmtpPool(Settings(smtp_host="127.0.0.1", smtp_port=port), connections)
        try:
            await asyncio.gather(*(pool.send(e) for e in emails[:connections]))  # connect
            return await cpu_per_send(emails, pool.send, connections)
        finally:
            await pool.close()

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile build+serialize")
    parser.add_argument("--send", action="store_true", help="time the SMTP conversation too")
    args = parser.parse_args()

    renderer = Renderer()
    ctxs = contexts()
    contents: list[RenderedEmail] = [renderer.email("mark_created", c) for c in ctxs]
    people = recipients(args.messages)
    c0 = contents[0]
    print(
        f"content: subject {len(c0.subject)} chars, text {len(c0.text.encode())} B, "
        f"html {len(c0.html.encode())} B; wire {len(wire(build(people[0], c0, 0)))} B"
    )

    def one(i: int) -> bytes:
        return wire(build(people[i], contents[i % len(contents)], i))

    def render(i: int) -> RenderedEmail:
        return renderer.email("mark_created", ctxs[i % len(ctxs)])

    one(0)  # warm up: imports, charset tables
    builds, renders = [], []
    for run in range(args.runs):
        builds.append(time_per_message(one, args.messages))
        renders.append(time_per_message(render, args.messages))
        print(f"run {run + 1}: build+serialize {builds[-1]:,.0f} µs, render {renders[-1]:,.0f} µs")
    sends: list[tuple[float, float]] = []
    if args.send:
        emails = [build(people[i], contents[i % len(contents)], i) for i in range(args.messages)]
        sink = Sink("smtp")
        try:
            for run in range(args.runs):
                sends.append(send_cpu(emails, int(sink.address["port"])))
                print(f"run {run + 1}: send {sends[-1][0]:,.0f} µs CPU, {sends[-1][1]:,.0f}/s")
        finally:
            sink.stop()
    print(f"median of {args.runs} runs, {args.messages} messages each:")
    print(f"  build+serialize  {statistics.median(builds):>8,.0f} µs/message")
    print(f"  render           {statistics.median(renders):>8,.0f} µs/message")
    if sends:
        cpu = statistics.median(c for c, _ in sends)
        rate = statistics.median(r for _, r in sends)
        print(f"  send (SmtpPool)  {cpu:>8,.0f} µs/message of our CPU, {rate:,.0f} messages/s")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(time_per_message, one, args.messages)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
