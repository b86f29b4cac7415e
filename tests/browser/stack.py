"""The installation a browser test talks to, started the way an operator starts it: `notifier
serve`, `notifier worker` and `notifier bot` as child processes on one SQLite file and the
tests' Redis, sending mail to a local SMTP server and Telegram messages to a local Bot API
server. Each child writes its log under the stack's folder; a child that dies shows its log in
the failure."""

from __future__ import annotations

import contextlib
import html
import itertools
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis import Redis as SyncRedis

from notifier.categories import TITLES, Category
from notifier.embedded import die_with_parent
from tests.browser.seed import SeededSchool, seed_school
from tests.conftest import ADMIN_TOKEN
from tests.factories import EVERYTHING_NOW
from tests.processes import BIN, env_with, spawn, steady_port, wait_http
from tests.servers import max as max_server
from tests.servers import telegram
from tests.servers.max import MaxApiServer
from tests.servers.smtp_server import ReceivedMail, SmtpServer
from tests.servers.telegram import BotApiServer

# A Redis database of its own on the session's server, so that what the children leave there
# (streams, arq's queue) meets no other test's keys.
REDIS_DB = 9
STARTUP_SECONDS = 60  # three Python processes importing at once on a busy 2-core machine
STOP_SECONDS = 15
EMAIL_FROM = "school@notifier.test"
_URL = re.compile(r"https?://[^\s\"'<>]+")
# A weekly summary's subject, and the first line of its messenger text, start with its
# category's title (templates/summary/).
WEEKLY_SUMMARY = TITLES[Category.summary]


def _weekly_summary(plain: str) -> bool:
    return WEEKLY_SUMMARY in plain.partition("\n")[0]


@dataclass
class Child:
    """One of our commands running as a child process, with its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, chars: int = 3000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ({self.log}) ---\n{text[-chars:]}"

    def interrupt(self) -> None:
        if self.proc.poll() is None:
            # SIGINT: each of serve (uvicorn), worker (arq) and bot shuts down cleanly on it.
            self.proc.send_signal(signal.SIGINT)

    def wait_or_kill(self) -> None:
        try:
            self.proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_SECONDS)


@dataclass
class Stack:
    """The running installation. `api` is an httpx client with the admin token at `base_url`
    (for seeding through the REST API); `smtp` holds the mail the children sent; `bot_api` is
    the Bot API server the bot long-polls and the worker sends to."""

    base_url: str
    api: httpx.Client
    smtp: SmtpServer
    bot_api: BotApiServer
    database_url: str
    data_dir: Path
    redis_url: str = ""  # the database the children use (REDIS_DB), for tests that XADD
    max_api: MaxApiServer | None = None  # the MAX Bot API server, when the stack has MAX
    children: list[Child] = field(default_factory=list)
    _seeds: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def seed_school(self, subscriptions: dict[str, Any] = EVERYTHING_NOW) -> SeededSchool:
        """A new school, distinct from every other this stack made (see seed.py)."""
        return seed_school(self, next(self._seeds), subscriptions)

    def logs(self) -> str:
        return "\n".join(child.tail() for child in self.children)

    def assert_running(self) -> None:
        """Fail, with its log, if a child exited: every later failure would only be noise."""
        dead = [c for c in self.children if c.proc.poll() is not None]
        if dead:
            raise AssertionError(_exited("exited early", dead))

    def mail_to(self, address: str) -> list[ReceivedMail]:
        """The messages to `address` but the weekly summary: the worker sends it to every
        guardian from the school's Saturday digest time (19:00 in Moscow) to Sunday's end, and
        a test waiting for what its own steps caused would count it on a weekend evening."""
        wanted = address.lower()
        return [
            m
            for m in list(self.smtp.messages)
            if wanted in (r.lower() for r in m.rcpt_tos)
            and not str(m.message["Subject"] or "").startswith(WEEKLY_SUMMARY)
        ]

    def telegram_to(self, chat_id: int | str) -> list[telegram.SentMessage]:
        """Telegram's messages to `chat_id` but the weekly summary (see mail_to)."""
        return [m for m in self.bot_api.messages_to(chat_id) if not _weekly_summary(m.plain)]

    def max_to(self, user_id: int) -> list[max_server.SentMessage]:
        """MAX's messages to `user_id` but the weekly summary (see mail_to)."""
        assert self.max_api is not None, "a stack with MAX: browser_stack(max_api=...)"
        return [m for m in self.max_api.messages_to(user_id) if not _weekly_summary(m.plain)]

    def wait_for_mail(self, address: str, n: int = 1, timeout: float = 20) -> ReceivedMail:
        """The `n`-th message the SMTP server accepted for `address`, once it has arrived."""
        deadline = time.monotonic() + timeout
        while (got := len(self.mail_to(address))) < n:
            if time.monotonic() > deadline:
                self.assert_running()
                raise AssertionError(
                    f"{got} messages to {address} within {timeout}s, expected {n}\n{self.logs()}"
                )
            time.sleep(0.05)
        return self.mail_to(address)[n - 1]

    def link_in(self, mail: ReceivedMail, path: str) -> str:
        """The first link in the mail (text or HTML part) that starts with base_url + path,
        e.g. `stack.link_in(mail, "/console/")`."""
        wanted = self.base_url + path
        found = links_in(mail)
        for link in found:
            if link.startswith(wanted):
                return link
        raise AssertionError(f"no link starting with {wanted} in the mail; its links: {found}")


def links_in(mail: ReceivedMail) -> list[str]:
    """Every distinct http(s) link in the mail's text and HTML parts, in order."""
    found: list[str] = []
    for part in mail.message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            text = part.get_content()
            for link in _URL.findall(text):
                link = html.unescape(link)
                if link not in found:
                    found.append(link)
    return found


@contextlib.contextmanager
def running_stack(
    workdir: Path,
    *,
    database_url: str,
    redis_url: str,
    max_api: MaxApiServer | None = None,
    redis_db: int = REDIS_DB,
) -> Iterator[Stack]:
    """Start the servers and the three commands, wait until each serves, stop them all after.

    `database_url` must point at a migrated database; `redis_url` at a server the stack may use
    database `redis_db` of (flushed first). With `max_api`, the installation has a MAX bot too
    (issue 17): the worker sends to that server and `notifier bot` long-polls it."""
    redis_url = f"{redis_url.rsplit('/', 1)[0]}/{redis_db}"
    client = SyncRedis.from_url(redis_url)
    client.flushdb()
    client.close()
    with contextlib.ExitStack() as cleanup:
        smtp = cleanup.enter_context(SmtpServer())
        bot_api = cleanup.enter_context(BotApiServer())
        port = steady_port()
        metrics_port = steady_port()
        while metrics_port == port:
            metrics_port = steady_port()
        base_url = f"http://127.0.0.1:{port}"
        data_dir = workdir / "var"
        settings = {
            "database_url": database_url,
            "redis_url": redis_url,
            "http_port": str(port),
            "public_url": base_url,
            "admin_token": ADMIN_TOKEN,
            "smtp_host": smtp.host,
            "smtp_port": str(smtp.port),
            "email_from": EMAIL_FROM,
            "telegram_token": bot_api.token,
            "telegram_api_base": bot_api.base,
            "data_dir": str(data_dir),
            # Messages go out at once, and a failed send is retried within the test.
            "coalesce_seconds": "0",
            "retry_base_seconds": "0.5",
            "retry_max_seconds": "2",
        }
        if max_api is not None:
            settings |= {"max_token": max_api.token, "max_api_base": max_api.base}
        commands = {
            "serve": env_with(**settings),
            "worker": env_with(**settings, worker_metrics_port=str(metrics_port)),
            "bot": env_with(**settings),
        }
        stack = Stack(
            base_url=base_url,
            api=cleanup.enter_context(
                httpx.Client(
                    base_url=base_url,
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                    timeout=15,
                    # uvicorn closes an idle connection after 5 s, httpx's default expiry
                    # too: a request sent as the server closes fails with "Server
                    # disconnected". Expiring ours first leaves no such race.
                    limits=httpx.Limits(keepalive_expiry=1),
                )
            ),
            smtp=smtp,
            bot_api=bot_api,
            database_url=database_url,
            data_dir=data_dir,
            redis_url=redis_url,
            max_api=max_api,
        )
        try:
            _start(stack, workdir, commands, metrics_port)
        except BaseException:
            _stop_all(stack)
            raise
        yield stack
        early = _stop_all(stack)
        if early:
            raise AssertionError(_exited("exited before the end of the tests", early))


def _start(
    stack: Stack, workdir: Path, commands: dict[str, dict[str, str]], metrics_port: int
) -> None:
    for name, env in commands.items():
        log = workdir / f"{name}.log"
        # The working directory is the stack's own: no `.env` of the checkout is read.
        proc = spawn(
            [str(BIN / "notifier"), name],
            cwd=workdir,
            env=env,
            log=log,
            preexec_fn=die_with_parent(),  # no orphans if the test run is killed
        )
        stack.children.append(Child(name, proc, log))
    serve, worker, bot = stack.children
    wait_http(f"{stack.base_url}/healthz", serve.proc, serve.log, timeout=STARTUP_SECONDS)
    # The worker serves its /metrics once its consumer has started.
    metrics = f"http://127.0.0.1:{metrics_port}/metrics"
    wait_http(metrics, worker.proc, worker.log, timeout=STARTUP_SECONDS)
    _wait_polling(bot, stack.bot_api)
    if stack.max_api is not None:
        _wait_polling(bot, stack.max_api)


def _wait_polling(bot: Child, bot_api: BotApiServer | MaxApiServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while bot_api.polls_waiting == 0:
        if bot.proc.poll() is not None:
            raise AssertionError(f"bot exited early:\n{bot.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"bot did not poll {type(bot_api).__name__}:\n{bot.tail()}")
        time.sleep(0.05)


def _stop_all(stack: Stack) -> list[Child]:
    """Stop every child; return those that had exited before they were asked to."""
    early = [c for c in stack.children if c.proc.poll() is not None]
    for child in stack.children:  # all at once: each takes seconds to wind down
        child.interrupt()
    for child in stack.children:
        child.wait_or_kill()
    return early


def _exited(what: str, children: list[Child]) -> str:
    names = ", ".join(f"{c.name} (exit {c.proc.returncode})" for c in children)
    return f"{what}: {names}\n" + "\n".join(c.tail() for c in children)
