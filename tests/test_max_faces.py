"""MAX where staff see it (issue 17), on a service with a Telegram and a MAX bot (the local
servers): a guardian's MAX link issued on their page, shown once with a QR code a phone reads,
spent in the bot and unlinked; MAX in the channel order; a class teacher's MAX link for
/announce; "MAX linked" on the roster's pages and the staff page; a class's reach and its
invitation slips with a MAX code beside Telegram's; a message by MAX in the delivery log and on
the dashboard, and a blocked MAX bot there as its failure and in the advice."""

from __future__ import annotations

import base64
import io
import re

import httpx
import pytest
import zxingcpp
from PIL import Image
from pydantic import SecretStr
from pypdf import PdfReader
from sqlalchemy import select

from notifier.channels.base import Messenger
from notifier.config import Settings
from notifier.db.models import AuditEntry, Staff
from notifier.roster.chat_link import link_chat
from notifier.runtime import Runtime, build_runtime
from tests.console_client import CSRF, csrf_of, sign_in, teacher_client, visitor
from tests.factories import mark, post_structured, pupil_with_guardian, put, put_school
from tests.pdf_reader import pdf_text
from tests.servers.max import MaxApiServer
from tests.servers.smtp_server import ReceivedMail, SmtpServer
from tests.servers.telegram import BotApiServer

__all__ = ["visitor"]  # the fixture, used by name

CODE = re.compile(r'<code id="link-code">([^<]+)</code>')
QR = re.compile(r'<img src="(data:image/png;base64,[^"]+)" alt="([^"]+)"')
MAX_USER = 4_200_001


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer, max_api: MaxApiServer) -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": SecretStr(bot_api.token),
            "telegram_api_base": bot_api.base,
            "telegram_chat_interval_seconds": 0,
            "max_token": SecretStr(max_api.token),
            "max_api_base": max_api.base,
            "max_chat_interval_seconds": 0,
        }
    )


async def _school(api: httpx.AsyncClient) -> None:
    """School s1: its admin Нина, class teacher Анна of 7А; in 7А Иванов (g1, email), Петров
    (g2, email) and Сидоров (g3, neither email nor phone)."""
    await put_school(api, "s1", {"name": "Школа № 1"})
    await put(
        api,
        "/v1/staff/a1",
        {"school_id": "s1", "full_name": "Завуч Нина", "role": "admin", "email": "nina@s1.ru"},
    )
    await put(
        api, "/v1/staff/t1", {"school_id": "s1", "full_name": "Учитель Анна", "email": "anna@s1.ru"}
    )
    await put(api, "/v1/classes/7a", {"school_id": "s1", "name": "7А", "class_teacher_id": "t1"})
    for pupil, guardian, pupil_name, guardian_name in (
        ("p1", "g1", "Иванов Иван", "Иванова Мария"),
        ("p2", "g2", "Петров Пётр", "Петрова Ольга"),
        ("p3", "g3", "Сидоров Семён", "Сидорова Вера"),
    ):
        await pupil_with_guardian(
            api,
            pupil,
            guardian,
            klass="7a",
            school="s1",
            full_name=pupil_name,
            guardian_name=guardian_name,
        )
    await put(api, "/v1/guardians/g3", {"full_name": "Сидорова Вера", "student_ids": ["p3"]})


async def _spend(
    runtime: Runtime, code: str, chat: str, messenger: Messenger = Messenger.max
) -> None:
    """The person opens the link: MAX's bot_started (Telegram's /start) carries the code."""
    async with runtime.sessions() as session:
        await link_chat(
            session=session,
            code=code,
            chat_id=chat,
            bot_id=None,
            now=runtime.clock(),
            messenger=messenger,
        )


async def _link_max(api: httpx.AsyncClient, runtime: Runtime, guardian: str, user: int) -> None:
    r = await api.post(f"/v1/guardians/{guardian}/max-link")
    assert r.status_code == 201, r.text
    await _spend(runtime, r.json()["code"], str(user))


async def _link_telegram(api: httpx.AsyncClient, runtime: Runtime, bot_api: BotApiServer) -> None:
    r = await api.post("/v1/guardians/g2/telegram-link")
    assert r.status_code == 201, r.text
    async with runtime.sessions() as session:
        await link_chat(
            session=session,
            code=r.json()["code"],
            chat_id="700002",
            bot_id=str(bot_api.bot_id),
            now=runtime.clock(),
        )


def _scanned(data_uri: str) -> str:
    """What a phone's camera reads from a QR code the page shows."""
    head, _, body = data_uri.partition(",")
    assert head == "data:image/png;base64"
    image = Image.open(io.BytesIO(base64.b64decode(body)))
    assert {shade for _, shade in image.convert("L").getcolors() or []} == {0, 255}
    (code,) = zxingcpp.read_barcodes(image)
    return code.text


def _plain(mail: ReceivedMail) -> str:
    body = mail.message.get_body(("plain",))
    return body.get_content() if body is not None else ""


def _section(page: str, ident: str) -> str:
    found = re.search(rf'<section aria-labelledby="{ident}">.*?</section>', page, re.S)
    assert found, f"no section {ident}"
    return found.group(0)


async def _trail(runtime: Runtime, action: str) -> list[AuditEntry]:
    async with runtime.sessions() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def _post(visitor: httpx.AsyncClient, page: str, path: str, **form: str) -> httpx.Response:
    token = await csrf_of(visitor, page)
    return await visitor.post(path, data={"csrf": token, **form})


async def test_a_guardians_max_link_is_shown_once_with_its_qr_then_linked_and_unlinked(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    max_api: MaxApiServer,
) -> None:
    await _school(api)
    older = await api.post("/v1/guardians/g1/max-link")
    assert older.status_code == 201
    await sign_in(visitor, smtp, "nina@s1.ru")
    page = (await visitor.get("/console/roster/guardians/g1")).text
    section = _section(page, "g-max")
    assert '<h2 id="g-max">MAX</h2>' in section and "Чат не подключён." in section
    assert "MAX не подключён" in page  # beside "Telegram не подключён" among the contacts
    assert 'aria-label="Выдать новый код подключения MAX"' in section

    issued = await _post(
        visitor, "/console/roster/guardians/g1", "/console/roster/guardians/g1/max/code"
    )
    assert issued.status_code == 200, issued.text
    section = _section(issued.text, "g-max")
    code = CODE.search(section).group(1)  # type: ignore[union-attr]
    url = f"https://max.ru/{max_api.username}?start={code}"
    assert f'<a id="link-url" href="{url}">' in section
    image, alt = QR.search(section).groups()  # type: ignore[union-attr]
    assert _scanned(image) == url
    assert alt.startswith("QR-код ссылки на бот в MAX")
    assert "link-code" not in _section(issued.text, "g-telegram")  # shown where it belongs
    assert code not in (await visitor.get("/console/roster/guardians/g1")).text  # shown once
    [made] = [e for e in await _trail(runtime, "max_link.create") if e.actor_staff_id]
    assert (made.subject_type, made.subject_id, made.actor_staff_id) == ("guardian", "g1", "a1")

    # The parent opens it; the older code made through the API is void by now.
    with pytest.raises(Exception, match="newer code"):
        await _spend(runtime, older.json()["code"], str(MAX_USER))
    await _spend(runtime, code, str(MAX_USER))
    page = (await visitor.get("/console/roster/guardians/g1")).text
    assert "Чат подключён" in _section(page, "g-max")
    assert '<span class="badge ok">MAX</span>' in page
    listing = (await visitor.get("/console/roster?q=Иванова")).text
    assert '<span class="badge ok">MAX</span>' in listing
    pupil = (await visitor.get("/console/roster/pupils/p1")).text
    assert '<span class="badge ok">MAX</span>' in pupil

    unlinked = await _post(
        visitor, "/console/roster/guardians/g1", "/console/roster/guardians/g1/max/unlink"
    )
    assert unlinked.status_code == 303
    assert unlinked.headers["location"] == "/console/roster/guardians/g1?done=unlinked_max#g-max"
    page = (await visitor.get(unlinked.headers["location"])).text
    assert "Чат MAX отключён: сообщения в него больше не идут." in _section(page, "g-max")
    body = (await api.get("/v1/guardians/g1")).json()
    assert body["max_linked"] is False and body["telegram_linked"] is False
    [gone] = await _trail(runtime, "max_link.delete")
    assert (gone.subject_id, gone.actor_staff_id) == ("g1", "a1")
    # A messenger the service does not know is no address at all.
    token = await csrf_of(visitor, "/console/roster/guardians/g1")
    icq = await visitor.post("/console/roster/guardians/g1/icq/code", data={"csrf": token})
    assert icq.status_code in (404, 422)


async def test_max_is_a_choice_in_a_guardians_channel_order(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, runtime: Runtime
) -> None:
    await _school(api)
    await _link_max(api, runtime, "g1", MAX_USER)
    await sign_in(visitor, smtp, "nina@s1.ru")
    page = (await visitor.get("/console/roster/guardians/g1")).text
    assert page.count('<option value="max">MAX</option>') == 5  # each of the five positions
    saved = await _post(
        visitor,
        "/console/roster/guardians/g1",
        "/console/roster/guardians/g1/preferences",
        channel_1="max",
        channel_2="email",
        basis="Заявление № 7",
    )
    assert saved.status_code == 303, saved.text
    prefs = (await api.get("/v1/guardians/g1/preferences")).json()
    assert prefs["channels"][:2] == ["max", "email"]
    page = (await visitor.get(saved.headers["location"])).text
    assert "Сейчас: MAX → Почта." in page
    assert '<option value="max" selected>MAX</option>' in page


async def test_a_class_teacher_gets_a_max_link_for_announce(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    max_api: MaxApiServer,
) -> None:
    await _school(api)
    await sign_in(visitor, smtp, "nina@s1.ru")
    staff = (await visitor.get("/console/staff")).text
    assert '<th scope="col">MAX</th>' in staff
    assert 'action="/console/setup/staff/t1/max"' in staff
    form = (await visitor.get("/console/setup/staff?staff_id=t1")).text
    assert 'action="/console/setup/staff/t1/max"' in form and "Ссылка на бота в MAX" in form
    link = await _post(visitor, "/console/staff", "/console/setup/staff/t1/max")
    assert link.status_code == 200, link.text
    code = re.search(r'id="link-code" value="([^"]+)"', link.text).group(1)  # type: ignore[union-attr]
    url = f"https://max.ru/{max_api.username}?start={code}"
    assert f'id="link-url" value="{url}"' in link.text
    assert "Открыть в MAX" in link.text and "свяжет его MAX" in link.text
    image, _ = QR.search(link.text).groups()  # type: ignore[union-attr]
    assert _scanned(image) == url
    [made] = await _trail(runtime, "max_link.create")
    assert (made.subject_type, made.subject_id, made.actor_staff_id) == ("staff", "t1", "a1")
    await _spend(runtime, code, "4200009")  # the teacher opens it in MAX
    async with runtime.sessions() as session:
        teacher = await session.get(Staff, "t1")
        assert teacher is not None and teacher.max_user_id == "4200009"
    staff = (await visitor.get("/console/staff")).text
    row = re.search(r"<tr>\s*<th scope=\"row\">Учитель Анна</th>.*?</tr>", staff, re.S)
    assert row and row.group(0).count("<td>да</td>") == 2  # an email, and MAX
    assert 'action="/console/setup/staff/t1/max"' not in staff  # linked: no second link


async def test_the_class_page_and_its_slips_show_max_beside_telegram(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    bot_api: BotApiServer,
    max_api: MaxApiServer,
) -> None:
    await _school(api)
    await _link_max(api, runtime, "g1", MAX_USER)
    await _link_telegram(api, runtime, bot_api)
    await sign_in(visitor, smtp, "anna@s1.ru")  # the class teacher
    page = (await visitor.get("/console/classes/7a")).text
    row = re.search(r"<td>Иванова Мария</td>\s*<td>\s*<span class=\"badge (\w+)\">([^<]+)<", page)
    assert row and row.groups() == ("ok", "MAX")
    assert "Сообщения получают 2 из 3 семей." in page
    assert "ссылка на бот школы в Telegram и MAX" in page and "коды обоих" in page
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    slips = await visitor.post("/console/classes/7a/invitations", data={"csrf": token})
    assert slips.status_code == 200 and slips.headers["content-type"] == "application/pdf"
    text = " ".join(pdf_text(slips.content).split())
    assert "Уведомления из школы в Telegram или MAX" in text  # Сидорова: neither linked
    assert "Уведомления из школы в MAX" in text  # Петрова: Telegram already
    assert "Уведомления из школы в Telegram " in text  # Иванова: MAX already
    links = [
        barcode.text
        for pdf_page in PdfReader(io.BytesIO(slips.content)).pages
        for picture in pdf_page.images
        for barcode in zxingcpp.read_barcodes(picture.image)
    ]
    telegram = [u for u in links if u.startswith(f"https://t.me/{bot_api.username}?start=")]
    in_max = [u for u in links if u.startswith(f"https://max.ru/{max_api.username}?start=")]
    assert (len(telegram), len(in_max), len(links)) == (2, 2, 4)
    # The grandmother scans the MAX code: her chat is linked, the family reached.
    for url in in_max:
        code = url.split("start=", 1)[1]
        async with runtime.sessions() as session:
            linked = await link_chat(
                session=session,
                code=code,
                chat_id="4200003",
                bot_id=None,
                now=runtime.clock(),
                messenger=Messenger.max,
            )
        if linked.guardian_id == "g3":
            break
    page = (await visitor.get("/console/classes/7a")).text
    assert "Сообщения получают 3 из 3 семей." in page


async def test_a_message_by_max_in_the_log_and_on_the_dashboard_and_a_blocked_bot(
    api: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    smtp: SmtpServer,
    runtime: Runtime,
    max_api: MaxApiServer,
    pump,
) -> None:
    await _school(api)
    await _link_max(api, runtime, "g1", MAX_USER)
    await _link_max(api, runtime, "g3", MAX_USER + 2)  # MAX is all g3 has
    assert (await post_structured(api, mark("p1", subject="Физика"))).status_code == 202
    await pump()
    [message] = max_api.messages_to(MAX_USER)
    assert "Физика" in message.plain
    await sign_in(visitor, smtp, "nina@s1.ru")
    log = (await visitor.get("/console/deliveries?channel=max")).text
    assert '<option value="max" selected>MAX</option>' in log
    assert re.search(r"<td>MAX</td>\s*<td>\s*<span class=\"badge ok\">", log)
    board = (await visitor.get("/console/dashboard")).text
    assert re.search(r'<th scope="row">MAX</th><td data-channel="max">1</td>', board)
    assert re.search(r'<rect class="ch-max" x="[\d.]+" y="[\d.]+"', board)

    # Both block the bot: g1's message goes by email, g3 is left with nothing.
    max_api.block(MAX_USER)
    max_api.block(MAX_USER + 2)
    for pupil in ("p1", "p3"):
        assert (await post_structured(api, mark(pupil, subject="Химия"))).status_code == 202
    await pump()
    chemistry = [m for m in smtp.messages if "Химия" in _plain(m)]
    assert [m.rcpt_tos for m in chemistry] == [["g1@parents.example.org"]]
    board = (await visitor.get("/console/dashboard")).text
    attempts = re.search(r'data-table="failed-attempts".*?</table>', board, re.S)
    assert attempts and re.search(
        r'<th scope="row">MAX</th><td><code>MAX 403 chat.denied</code></td>'
        r"<td>окончательная</td><td>2</td>",
        attempts.group(0),
    )
    failed = re.search(r'data-table="failed-messages".*?</table>', board, re.S)
    assert failed and "<code>max: MAX 403 chat.denied</code>" in failed.group(0)
    await visitor.post("/console/signout", data={"csrf": await csrf_of(visitor, "/console/")})
    await sign_in(visitor, smtp, "anna@s1.ru")
    reach = (await visitor.get("/console/classes/7a")).text
    assert "Заблокировали бота в Telegram или MAX: 1." in reach
    row = re.search(r"<td>Иванова Мария</td>\s*<td>\s*<span class=\"badge (\w+)\">([^<]+)<", reach)
    assert row and row.groups() == ("ok", "Почта")  # MAX is dead for her: email carries it


async def test_with_max_alone_the_slips_invite_to_max_and_telegram_says_it_is_not_set_up(
    api: httpx.AsyncClient, settings: Settings, smtp: SmtpServer, max_api: MaxApiServer
) -> None:
    """A service with a MAX bot and no Telegram bot: the slips carry MAX codes only, and the
    guardian's page says what to set for Telegram."""
    await _school(api)
    only_max = settings.model_copy(update={"telegram_token": None})
    runtime = build_runtime(only_max)
    try:
        async with teacher_client(only_max, runtime) as browser:
            await sign_in(browser, smtp, "nina@s1.ru")
            page = (await browser.get("/console/roster/guardians/g1")).text
            assert "Telegram не настроен (NOTIFIER_TELEGRAM_TOKEN)" in _section(page, "g-telegram")
            assert "Выдать новый код подключения MAX" in _section(page, "g-max")
            klass = (await browser.get("/console/classes/7a")).text
            assert "ссылка на бот школы в MAX с новым кодом" in klass
            assert "коды обоих" not in klass
            token = CSRF.search(klass).group(1)  # type: ignore[union-attr]
            slips = await browser.post("/console/classes/7a/invitations", data={"csrf": token})
            assert slips.status_code == 200, slips.text
    finally:
        await runtime.close()
    text = " ".join(pdf_text(slips.content).split())
    assert text.count("Уведомления из школы в MAX") == 3 and "Telegram" not in text
    reader = PdfReader(io.BytesIO(slips.content))
    assert reader.metadata is not None and reader.metadata.title == "Приглашения в MAX"
    links = [
        barcode.text
        for pdf_page in reader.pages
        for picture in pdf_page.images
        for barcode in zxingcpp.read_barcodes(picture.image)
    ]
    assert len(links) == 3
    assert all(u.startswith(f"https://max.ru/{max_api.username}?start=") for u in links)


async def test_an_english_speaking_admin_reads_max_in_english(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer, runtime: Runtime
) -> None:
    await _school(api)
    await put(
        api,
        "/v1/staff/a2",
        {
            "school_id": "s1",
            "full_name": "Head",
            "role": "admin",
            "email": "head@s1.ru",
            "locale": "en",
        },
    )
    await sign_in(visitor, smtp, "head@s1.ru")
    page = (await visitor.get("/console/roster/guardians/g1")).text
    assert "MAX not linked" in page
    assert 'aria-label="Issue a new link code for MAX"' in _section(page, "g-max")
    assert '<option value="max">MAX</option>' in page
    staff = (await visitor.get("/console/staff")).text
    assert "A link to the MAX bot" in staff
    link = await _post(visitor, "/console/staff", "/console/setup/staff/t1/max")
    assert "Open in MAX" in link.text and "bot in MAX and links their chat" in link.text
    report = (await visitor.get("/console/report")).text
    assert "Telegram, MAX, email, SMS" in report


async def test_the_parents_guide_names_both_messengers_on_screen_and_after_the_slips(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await _school(api)
    guide = (await visitor.get("/console/help/parents")).text
    assert ">Как подключить Telegram или MAX</h2>" in guide
    assert "Нажмите кнопку запуска бота: в Telegram — «Запустить» (Start), в MAX — «Начать»." in (
        guide
    )
    assert ">Нет Telegram или MAX?</h2>" in guide
    await sign_in(visitor, smtp, "anna@s1.ru")
    token = await csrf_of(visitor, "/console/classes/7a")
    slips = await visitor.post(
        "/console/classes/7a/invitations", data={"csrf": token, "with_guide": "true"}
    )
    last = " ".join(pdf_text(slips.content).split("\f")[-1].split())
    assert "Как подключить Telegram или MAX" in last and "в MAX — «Начать»" in last
