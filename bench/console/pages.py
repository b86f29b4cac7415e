"""The console's pages as a signed-in browser asks for them, one at a time over one keep-alive
connection: wall time per request, and the API process's CPU per request."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from bench.region.processes import cpu_seconds
from bench.region.report import percentile
from notifier.console.web import SESSION_COOKIE
from notifier.db.engine import SessionFactory
from notifier.db.models import Staff
from notifier.signin import csrf_token, issue_link, redeem_link

TARGET_MS = 200.0  # issue 15: every page's p95
HTMX = {"HX-Request": "true", "HX-Target": "preview"}


async def sign_in(sessions: SessionFactory, staff_id: str, now: datetime) -> str:
    """A session cookie for this staff member, as spending their emailed link would open."""
    async with sessions() as s:
        staff = await s.get(Staff, staff_id)
        assert staff is not None, staff_id
        link = await issue_link(session=s, staff=staff, now=now, ttl=timedelta(minutes=15))
        return await redeem_link(session=s, token=link, now=now)


@dataclass(frozen=True)
class Request:
    name: str
    method: str
    path: str
    form: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    pdf: bool = False  # a download: checked to be a PDF, reported apart from the pages


@dataclass(frozen=True)
class Browser:
    """One signed-in staff member's keep-alive client."""

    who: str
    client: httpx.Client
    csrf: str

    @classmethod
    def open(cls, who: str, base_url: str, cookie: str) -> Browser:
        client = httpx.Client(base_url=base_url, cookies={SESSION_COOKIE: cookie}, timeout=60)
        return cls(who, client, csrf_token(cookie))


@dataclass(frozen=True)
class Timing:
    name: str
    pdf: bool
    wall_ms: list[float]
    cpu_ms: float  # the API process's, per request

    @property
    def p95(self) -> float:
        return percentile(self.wall_ms, 0.95)

    def line(self) -> str:
        return (
            f"  {self.name:<34} median {statistics.median(self.wall_ms):7.1f}  "
            f"p95 {self.p95:7.1f}  max {max(self.wall_ms):7.1f}  "
            f"API CPU {self.cpu_ms:6.1f} ms/request"
        )


def fetch(browser: Browser, request: Request) -> float:
    """One request, its body read; the wall time in ms. Anything but the page is an error."""
    form = {**request.form, "csrf": browser.csrf} if request.form is not None else None
    started = time.perf_counter()
    response = browser.client.request(
        request.method, request.path, data=form, headers=request.headers
    )
    body = response.content
    elapsed = (time.perf_counter() - started) * 1000
    kind = response.headers.get("content-type", "")
    wanted = "application/pdf" if request.pdf else "text/html"
    if response.status_code != 200 or not kind.startswith(wanted):
        raise RuntimeError(
            f"{browser.who} {request.name}: {request.method} {request.path} answered "
            f"{response.status_code} {kind}: {body[:300]!r}"
        )
    return elapsed


def measure(browser: Browser, request: Request, *, api_pid: int, warmup: int, times: int) -> Timing:
    for _ in range(warmup):
        fetch(browser, request)
    cpu = cpu_seconds(api_pid)
    walls = [fetch(browser, request) for _ in range(times)]
    used = (cpu_seconds(api_pid) - cpu) * 1000 / times
    return Timing(f"{browser.who}: {request.name}", request.pdf, walls, used)


def summary_line(timings: list[Timing]) -> str:
    pages = [t for t in timings if not t.pdf]
    pdf = {t.name.rpartition(": ")[2]: t.p95 for t in timings if t.pdf}
    return (
        f"console pages: p95 max={max(t.p95 for t in pages):.0f} ms "
        f"(target {TARGET_MS:.0f} ms) over {len(pages)} pages; "
        f"pdf p95: summary={pdf['summary.pdf']:.0f} ms "
        f"invitations={pdf['invitations']:.0f} ms"
    )
