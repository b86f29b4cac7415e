"""The connected-parents report as an admin meets it: a school's classes on the page (MAX a
column of its own beside Telegram), the same
table as CSV and XLSX downloads (read back with the csv module and the workbook's own XML), a
class named like a formula coming out as text in both; the region's schools for a region-wide
admin; teachers refused; the downloads on the audit trail."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from html.parser import HTMLParser
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from aiogram.types import Update
from pydantic import SecretStr
from sqlalchemy import select

from bots.dispatcher import build_dispatcher
from notifier.channels.base import Messenger
from notifier.config import Settings
from notifier.db.models import AuditEntry
from notifier.roster.chat_link import link_chat
from notifier.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.console_client import CSRF, csrf_of, school, sign_in, visitor
from tests.factories import pupil_with_guardian, put, put_school
from tests.servers.max import MaxApiServer
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer

__all__ = ["visitor"]  # the fixture, used by name

FORMULA = '=HYPERLINK("http://x")'
NBSP = "\u00a0"


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer, max_api: MaxApiServer) -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": SecretStr(bot_api.token),
            "telegram_api_base": bot_api.base,
            "max_token": SecretStr(max_api.token),
            "max_api_base": max_api.base,
        }
    )


async def _guardian(
    api: httpx.AsyncClient,
    guardian: str,
    pupil: str,
    *,
    consent: bool = True,
    **addresses: str,
) -> None:
    body = {"full_name": f"Родитель {guardian}", "student_ids": [pupil], **addresses}
    await put(api, f"/v1/guardians/{guardian}", body)
    if consent:
        r = await api.post(f"/v1/guardians/{guardian}/consent", json={"document": "№ 5 от 01.09"})
        assert r.status_code == 201, r.text


async def _pupil(api: httpx.AsyncClient, pupil: str, klass: str, school_id: str = "s1") -> None:
    body = {"school_id": school_id, "class_id": klass, "full_name": f"Ученик {pupil}"}
    await put(api, f"/v1/students/{pupil}", body)


async def _link_through_the_bot(
    api: httpx.AsyncClient, runtime: Runtime, settings: Settings, bot_api: BotApiServer
) -> None:
    """g1 opens their slip's link: the bot gets «/start code» and links the chat."""
    r = await api.post("/v1/guardians/g1/telegram-link")
    assert r.status_code == 201, r.text
    assert runtime.telegram is not None
    update = Update.model_validate(bot_api.user_message(700001, f"/start {r.json()['code']}"))
    await build_dispatcher(settings).feed_update(
        runtime.telegram.default_bot, update, runtime=runtime
    )
    assert (await api.get("/v1/guardians/g1")).json()["telegram_linked"] is True


async def _link_in_max(api: httpx.AsyncClient, runtime: Runtime, guardian: str) -> None:
    """The guardian opens their MAX link: MAX's bot_started carries the code to the bot."""
    r = await api.post(f"/v1/guardians/{guardian}/max-link")
    assert r.status_code == 201, r.text
    async with runtime.sessions() as session:
        await link_chat(
            session=session,
            code=r.json()["code"],
            chat_id="4100009",
            bot_id=None,
            now=runtime.clock(),
            messenger=Messenger.max,
        )
    assert (await api.get(f"/v1/guardians/{guardian}")).json()["max_linked"] is True


async def _seed(
    api: httpx.AsyncClient, runtime: Runtime, settings: Settings, bot_api: BotApiServer
) -> None:
    """School s1: 7А (Telegram, no consent, SMS, MAX), 7Б (email, paper, a pupil with no guardian),
    and a class named like a formula (email, announcements off); school s2 with one family."""
    await school(api)
    await put(
        api,
        "/v1/staff/a1",
        {
            "school_id": "s1",
            "full_name": "Завуч Ирина",
            "role": "admin",
            "email": "head@school1.ru",
        },
    )
    await put(api, "/v1/classes/hx", {"school_id": "s1", "name": FORMULA})
    await _pupil(api, "p1", "7a")
    await _guardian(api, "g1", "p1", email="g1@parents.example.org")
    await _link_through_the_bot(api, runtime, settings, bot_api)
    await _pupil(api, "p2", "7a")
    await _guardian(api, "g2", "p2", consent=False, email="g2@parents.example.org")
    await _pupil(api, "p3", "7a")
    await _guardian(api, "g3", "p3", phone="+79160000003")
    await _pupil(api, "p9", "7a")
    await _guardian(api, "g9", "p9", email="g9@parents.example.org")  # MAX comes first
    await _link_in_max(api, runtime, "g9")
    await _pupil(api, "p4", "7b")
    await _guardian(api, "g4", "p4", email="g4@parents.example.org")
    await _pupil(api, "p5", "7b")  # nobody on the roster to tell
    await _pupil(api, "p6", "7b")
    await _guardian(api, "g6", "p6", email="g6@parents.example.org")
    r = await api.put("/v1/guardians/g6/preferences", json={"channels": ["paper"]})
    assert r.status_code == 200, r.text
    await _pupil(api, "p7", "hx")
    await _guardian(api, "g7", "p7", email="g7@parents.example.org")
    await _pupil(api, "p8", "hx")
    await _guardian(api, "g8", "p8", email="g8@parents.example.org")
    r = await api.put("/v1/guardians/g8/preferences", json={"categories": {"announcements": "off"}})
    assert r.status_code == 200, r.text
    await put_school(api, "s2", {"name": "Школа № 2"})
    await put(api, "/v1/classes/5a", {"school_id": "s2", "name": "5А"})
    await pupil_with_guardian(api, "q1", "h1", klass="5a", school="s2")


# Families per column: Telegram, MAX, email, SMS, connected in all, paper, no consent,
# opted out, channel failed, no contact.
EXPECTED = {
    "7А": (4, [1, 1, 0, 1, 3, 0, 1, 0, 0, 0]),
    "7Б": (3, [0, 0, 1, 0, 1, 1, 0, 0, 0, 1]),
    FORMULA: (2, [0, 0, 1, 0, 1, 0, 0, 1, 0, 0]),
    "Итого": (9, [1, 1, 2, 1, 5, 1, 1, 1, 0, 1]),
}
HEADERS = [
    "Класс",
    "Семей",
    "Telegram, семей",
    "Telegram, %",
    "MAX, семей",
    "MAX, %",
    "Электронная почта, семей",
    "Электронная почта, %",
    "SMS, семей",
    "SMS, %",
    "Всего подключено, семей",
    "Всего подключено, %",
    "На бумаге, семей",
    "На бумаге, %",
    "Нет согласия, семей",
    "Нет согласия, %",
    "Отказались от объявлений, семей",
    "Отказались от объявлений, %",
    "Канал не работает, семей",
    "Канал не работает, %",
    "Нет контактов, семей",
    "Нет контактов, %",
]


class _Table(HTMLParser):
    """The report's table as rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_table = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._in_table = True
        elif self._in_table and tag == "tr":
            self.rows.append([])
        elif self._in_table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        elif tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _table(page: str) -> list[list[str]]:
    parser = _Table()
    parser.feed(page)
    return parser.rows


def _percent(n: int, of: int) -> str:
    value = f"{100 * n / of:.1f}".removesuffix(".0") if of else "0"
    return value.replace(".", ",") + NBSP + "%"


async def _sign_in_admin(visitor: httpx.AsyncClient, smtp: SmtpServer) -> None:
    await sign_in(visitor, smtp, "head@school1.ru")


async def test_the_page_counts_each_family_of_each_class(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    settings: Settings,
    bot_api: BotApiServer,
) -> None:
    await _seed(api, runtime, settings, bot_api)
    await _sign_in_admin(visitor, smtp)
    home = await visitor.get("/console/")
    assert 'href="/console/report"' in home.text  # in the admin's navigation
    page = await visitor.get("/console/report")
    assert page.status_code == 200, page.text
    assert "Школа № 1: подключение родителей" in page.text
    assert "пунктов 12 и 14 формы отчёта" in page.text
    assert 'href="/console/report.csv"' in page.text and 'href="/console/report.xlsx"' in page.text
    assert "Школа № 2" not in page.text and "5А" not in page.text
    rows = _table(page.text)
    assert rows[0] == [
        "Класс",
        "Семей",
        "Telegram",
        "MAX",
        "Электронная почта",
        "SMS",
        "Всего подключено",
        "На бумаге",
        "Нет согласия",
        "Отказались от объявлений",
        "Канал не работает",
        "Нет контактов",
    ]
    body = {row[0]: row[1:] for row in rows[1:]}
    assert list(body) == list(EXPECTED)  # class order, then the total
    for name, (families, counts) in EXPECTED.items():
        assert body[name] == [
            str(families),
            *(f"{n} ({_percent(n, families)})".replace(NBSP, " ") for n in counts),
        ], name
    # Class names link to the class's own page; the formula is only text on a web page.
    assert 'href="/console/classes/hx">=HYPERLINK(&#34;http://x&#34;)</a>' in page.text
    assert '<th scope="col">' in page.text and 'role="region"' in page.text


async def test_the_csv_download_is_the_same_table_with_the_formula_neutralised(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    settings: Settings,
    bot_api: BotApiServer,
) -> None:
    await _seed(api, runtime, settings, bot_api)
    await _sign_in_admin(visitor, smtp)
    answer = await visitor.get("/console/report.csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="connected-parents-s1-')
    assert disposition.endswith('.csv"')
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the BOM a Russian Excel needs
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == HEADERS
    body = {row[0]: row[1:] for row in rows[1:]}
    assert list(body) == ["7А", "7Б", "'" + FORMULA, "Итого"]
    for name, (families, counts) in EXPECTED.items():
        row = body["'" + name if name == FORMULA else name]
        assert row[0] == str(families)
        assert row[1::2] == [str(n) for n in counts], name
        assert row[2::2] == [f"{100 * n / families:.1f}".replace(".", ",") for n in counts]
    assert body["7А"][2] == "25,0"  # one family of four on Telegram
    assert body["7А"][3:5] == ["1", "25,0"]  # and one on MAX
    async with runtime.sessions() as session:
        entries = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "report.download"))
        )
    assert [(e.subject_type, e.subject_id, e.detail, e.actor_staff_id) for e in entries] == [
        ("school", "s1", {"format": "csv"}, "a1")
    ]


def _xlsx(content: bytes) -> tuple[dict[str, Any], dict[str, int], list[str], zipfile.ZipFile]:
    """The first sheet's cells (reference → text or number), each cell's style index, and the
    quotePrefix flag of each cell style; read from the workbook's XML as a spreadsheet reads it."""
    book = zipfile.ZipFile(io.BytesIO(content))
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    shared = [
        "".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t"))
        for si in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).findall("m:si", ns)
    ]
    sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    cells: dict[str, Any] = {}
    styles: dict[str, int] = {}
    for c in sheet.iter(f"{{{ns['m']}}}c"):
        assert c.find("m:f", ns) is None, "no cell is a formula"
        value = c.find("m:v", ns)
        assert value is not None and value.text is not None
        ref = c.attrib["r"]
        cells[ref] = shared[int(value.text)] if c.attrib.get("t") == "s" else float(value.text)
        styles[ref] = int(c.attrib.get("s", "0"))
    xfs = ElementTree.fromstring(book.read("xl/styles.xml")).find("m:cellXfs", ns)
    assert xfs is not None
    quoted = [xf.attrib.get("quotePrefix", "0") for xf in xfs.findall("m:xf", ns)]
    return cells, styles, quoted, book


async def test_the_xlsx_download_has_numbers_percentages_and_the_formula_as_text(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    settings: Settings,
    bot_api: BotApiServer,
) -> None:
    await _seed(api, runtime, settings, bot_api)
    await _sign_in_admin(visitor, smtp)
    answer = await visitor.get("/console/report.xlsx")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert answer.headers["content-disposition"].endswith('.xlsx"')
    cells, styles, quoted, book = _xlsx(answer.content)
    assert cells["A1"] == "Школа № 1: подключение родителей"
    assert re.fullmatch(r"По состоянию на \d\d\.\d\d\.\d{4}", cells["A2"])
    columns = "ABCDEFGHIJKLMNOPQRSTUV"
    assert [cells[f"{c}4"] for c in columns] == HEADERS
    names = [cells[f"A{row}"] for row in range(5, 9)]
    # Written as text, marked as text the way Excel marks «'=…»: no quote in the value itself.
    assert names == ["7А", "7Б", FORMULA, "Итого"]
    assert quoted[styles["A7"]] == "1" and quoted[styles["A5"]] == "0"
    for row, name in enumerate(names, start=5):
        families, counts = EXPECTED[name]
        assert cells[f"B{row}"] == families
        assert [cells[f"{c}{row}"] for c in columns[2::2]] == counts
        assert [cells[f"{c}{row}"] for c in columns[3::2]] == pytest.approx(
            [n / families for n in counts]
        )
    assert b"HYPERLINK" not in book.read("xl/worksheets/sheet1.xml")  # only in shared strings
    assert "Отчёт" in book.read("xl/workbook.xml").decode()  # the sheet's name


async def test_a_region_wide_admin_sees_the_schools_then_chooses_one(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    runtime: Runtime,
    settings: Settings,
    bot_api: BotApiServer,
) -> None:
    await _seed(api, runtime, settings, bot_api)
    token = await csrf_of(visitor, "/console/signin")
    await visitor.post("/console/signin/admin", data={"token": ADMIN_TOKEN, "csrf": token})
    page = await visitor.get("/console/report")
    assert page.status_code == 200, page.text
    assert "Подключение родителей по школам" in page.text
    rows = _table(page.text)
    assert rows[0][0] == "Школа"
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        ("Школа № 1", "9", "1 (11,1 %)"),
        ("Школа № 2", "1", "0 (0 %)"),
        ("Итого", "10", "1 (10 %)"),
    ]
    download = await visitor.get("/console/report.csv")
    parsed = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig")), delimiter=";"))
    assert [r[:2] for r in parsed] == [
        ["Школа", "Семей"],
        ["Школа № 1", "9"],
        ["Школа № 2", "1"],
        ["Итого", "10"],
    ]
    assert 'filename="connected-parents-region-' in download.headers["content-disposition"]
    # "By class": the school is chosen, and the report comes back for it.
    csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    chosen = await visitor.post(
        "/console/schools", data={"csrf": csrf, "school_id": "s2", "back": "/report"}
    )
    assert chosen.status_code == 303 and chosen.headers["location"] == "/console/report"
    school_page = await visitor.get("/console/report")
    assert "Школа № 2: подключение родителей" in school_page.text
    assert [r[0] for r in _table(school_page.text)[1:]] == ["5А", "Итого"]
    # The region's table is still a link away.
    assert 'href="/console/report?region=true"' in school_page.text
    region = await visitor.get("/console/report?region=true")
    assert "Подключение родителей по школам" in region.text
    assert 'href="/console/report.csv?region=true"' in region.text
    again = await visitor.get("/console/report.csv?region=true")
    assert again.content.decode("utf-8-sig").count("\r\n") == 4


async def test_teachers_get_no_report_and_a_schools_admin_only_their_own(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    settings: Settings,
    bot_api: BotApiServer,
) -> None:
    await _seed(api, runtime, settings, bot_api)
    assert (await visitor.get("/console/report")).headers["location"] == "/console/signin"
    await sign_in(visitor, smtp, "anna@school1.ru")
    for path in ("/console/report", "/console/report.csv", "/console/report.xlsx"):
        refused = await visitor.get(path)
        assert refused.status_code == 403, path
        assert "Нет доступа" in refused.text
    assert 'href="/console/report"' not in (await visitor.get("/console/")).text
    await visitor.post("/console/signout", data={"csrf": await csrf_of(visitor, "/console/")})
    await _sign_in_admin(visitor, smtp)
    # A school's admin asking for the region gets their school.
    page = await visitor.get("/console/report?region=true")
    assert "Школа № 1: подключение родителей" in page.text and "Школа № 2" not in page.text
    assert "region=true" not in page.text  # no region to switch to


async def test_english_headers_and_separators_for_an_english_admin(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    settings: Settings,
    bot_api: BotApiServer,
) -> None:
    await _seed(api, runtime, settings, bot_api)
    await put(
        api,
        "/v1/staff/a2",
        {
            "school_id": "s1",
            "full_name": "Head",
            "role": "admin",
            "email": "head-en@school1.ru",
            "locale": "en",
        },
    )
    token = await csrf_of(visitor, "/console/signin")
    await visitor.post("/console/signin", data={"email": "head-en@school1.ru", "csrf": token})
    link = re.search(
        r"/console/signin/link/([A-Za-z0-9_-]+)",
        smtp.messages[-1].message.get_body(("plain",)).get_content(),  # type: ignore[union-attr]
    )
    assert link is not None
    confirm = await csrf_of(visitor, f"/console/signin/link/{link.group(1)}")
    await visitor.post(f"/console/signin/link/{link.group(1)}", data={"csrf": confirm})
    page = await visitor.get("/console/report")
    assert "Школа № 1: connected parents" in page.text  # the school's name is the roster's
    assert _table(page.text)[1][:4] == ["7А", "4", "1 (25%)", "1 (25%)"]
    assert _table(page.text)[0][2:4] == ["Telegram", "MAX"]
    download = await visitor.get("/console/report.csv")
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0][:6] == [
        "Class",
        "Families",
        "Telegram, families",
        "Telegram, %",
        "MAX, families",
        "MAX, %",
    ]
    assert rows[1][:6] == ["7А", "4", "1", "25.0", "1", "25.0"]
