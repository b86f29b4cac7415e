"""The printed invitations of a class: the slips read back as a parent meets them (the text, and
every QR code scanned from the PDF's images), and the service that makes their codes against the
real database (who is invited, who may print them, what a new slip does to an old one). Where
the service has a MAX bot too, a slip carries a MAX code and QR beside Telegram's, and a
guardian linked in one messenger is invited to the other."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import cast

import httpx
import pytest
import zxingcpp
from pypdf import PageObject
from sqlalchemy import func, select

from notifier.auth import Principal, Role
from notifier.channels.base import Messenger
from notifier.db.models import AuditEntry, LinkCode
from notifier.errors import Forbidden, InvalidInput, NotFound
from notifier.reports.invitations import Invite, Slip, invitations_pdf
from notifier.roster.chat_link import LinkRefused, Refusal, link_chat
from notifier.roster.invitations import StartLink, issue_invitations
from notifier.runtime import Runtime
from tests.conftest import FakeClock
from tests.factories import pupil_with_guardian, put, put_school, school_with_class
from tests.pdf_reader import pdf_pages, pdf_text, read

GENERATED = date(2026, 11, 23)
BOT = "https://t.me/school17_bot?start="
MAX_BOT = "https://max.ru/school17_bot?start="
MM = 25.4 / 72  # mm per point


def _invite(n: int, messenger: str = "telegram") -> Invite:
    code = f"Code{n:02d}{messenger[0]}-abcdefghij_KLMNO"  # as long as a real code (22 characters)
    return Invite(messenger, code, (MAX_BOT if messenger == "max" else BOT) + code)


def _slip(n: int, messengers: Sequence[str] = ("telegram",), **changes: object) -> Slip:
    fields: dict[str, object] = {
        "school": "Гимназия № 5",
        "class_name": "7Б",
        "pupils": (f"Иванова Мария {n}",),
        "guardian": f"Иванова Анна {n}",
        "invites": tuple(_invite(n, m) for m in messengers),
        "expires": date(2026, 12, 6),
    }
    fields.update(changes)
    return Slip(**fields)  # type: ignore[arg-type]


def _only(slip: Slip) -> Invite:
    (invite,) = slip.invites
    return invite


def _flat(text: str) -> str:
    """The text with its line breaks and layout spacing as single spaces."""
    return " ".join(text.split())


def _scan(pdf: bytes) -> list[str]:
    """What a phone reads from every QR code on every page, page by page."""
    found = []
    for page in read(pdf).pages:
        for picture in page.images:
            codes = zxingcpp.read_barcodes(picture.image)
            assert len(codes) == 1, picture.name
            found.append(codes[0].text)
    return found


def _placed_sizes(page: PageObject) -> dict[str, float]:
    """Each image's printed width in mm, from the transformation it is drawn with."""
    sizes: dict[str, float] = {}

    def visit(op: bytes, args: list[object], cm: list[float], tm: list[float]) -> None:
        if op == b"Do":
            sizes[str(args[0]).lstrip("/")] = cm[0] * MM

    page.extract_text(visitor_operand_before=visit)
    return sizes


# -- The PDF --------------------------------------------------------------------------------------


def test_a_slip_holds_the_names_the_link_the_code_and_the_steps() -> None:
    slip = _slip(1, pupils=("Соколов Пётр Андреевич", "Соколова Вера Андреевна"))
    text = pdf_text(invitations_pdf([slip], generated=GENERATED))
    for expected in (
        "Гимназия № 5",
        "Уведомления из школы в Telegram",
        "Соколов Пётр Андреевич",  # each name whole on a line
        "Соколова Вера Андреевна",
        "Класс: 7Б",
        "Для: Иванова Анна 1",
        _only(slip).url,
        f"Код: {_only(slip).code}",
        "Сформировано 23.11.2026",
        "Лист 1 из 1",
    ):
        assert expected in text, expected
    flat = _flat(text)
    for step in (
        "Ученики: Соколов Пётр Андреевич, Соколова Вера Андреевна",
        "1. Откройте камеру телефона и наведите её на QR-код или откройте ссылку ниже.",
        "2. В Telegram нажмите «Запустить» (Start).",
        "3. Бот подтвердит подключение и назовёт имя ребёнка.",
        "4. Что и когда присылать, можно изменить командой /settings.",
        "5. Вопросы — классному руководителю.",
        "Отправьте боту из неё «/start», пробел и код.",
        "Ссылка и код действуют до 06.12.2026 включительно.",
    ):
        assert step in flat, step
    one = pdf_text(invitations_pdf([_slip(2)], generated=GENERATED))
    assert "Ученик: Иванова Мария 2" in one


def test_every_slip_on_the_pages_and_every_qr_scans_to_its_link() -> None:
    slips = [_slip(n) for n in range(1, 8)]  # six to a page: two pages
    pdf = invitations_pdf(slips, generated=GENERATED)
    assert pdf_pages(pdf) == 2
    text = pdf_text(pdf)
    for slip in slips:
        invite = _only(slip)
        for expected in (slip.pupil, slip.guardian, invite.url, f"Код: {invite.code}"):
            assert text.count(expected) == 1, expected
    assert "Лист 1 из 2" in text and "Лист 2 из 2" in text
    assert sorted(_scan(pdf)) == sorted(_only(slip).url for slip in slips)
    pages = text.split("\f")
    assert slips[5].guardian in pages[0] and slips[6].guardian in pages[1]


def test_codes_print_large_black_on_white_with_their_quiet_zone() -> None:
    pdf = invitations_pdf([_slip(1), _slip(2)], generated=GENERATED)
    page = read(pdf).pages[0]
    printed = _placed_sizes(page)
    assert len(page.images) == 2
    for picture in page.images:
        image = picture.image
        assert image is not None
        shades = {shade for _, shade in image.convert("L").getcolors() or []}
        assert shades == {0, 255}, "grey would blur in print"
        (code,) = zxingcpp.read_barcodes(image)
        version = cast(dict[str, str], code.extra)["Version"]
        modules = 17 + 4 * int(version)
        corners = [(p.x, p.y) for p in (code.position.top_left, code.position.bottom_right)]
        (left, top), (right, bottom) = corners
        module = (right - left) / modules
        # At least four modules of white on every side, as ISO/IEC 18004 asks.
        for margin in (left, top, image.width - right, image.height - bottom):
            assert margin >= 4 * module - 1, (margin, module)
        width_mm = printed[picture.name.split(".")[0]]
        symbol_mm = width_mm * (right - left) / image.width
        assert symbol_mm >= 25, symbol_mm


def test_long_names_stay_whole_and_on_their_slip() -> None:
    long = _slip(
        1,
        school="МБОУ «Средняя общеобразовательная школа № 17 с углублённым изучением предметов»",
        pupils=(
            "Константинопольская Александра Владимировна",
            "Константинопольский Максимилиан Владимирович",
        ),
        guardian="Константинопольская Екатерина Александровна",
    )
    slips = [long, _slip(2)]
    pdf = invitations_pdf(slips, generated=GENERATED)
    assert pdf_pages(pdf) == 1
    text = pdf_text(pdf)
    for name in (*long.pupils, long.guardian, _only(long).url):
        assert name in text, name
    assert sorted(_scan(pdf)) == sorted(_only(s).url for s in slips)


def test_nobody_to_invite_gives_one_page_saying_so() -> None:
    pdf = invitations_pdf([], generated=GENERATED)
    assert pdf_pages(pdf) == 1
    assert len(read(pdf).pages[0].images) == 0
    flat = _flat(pdf_text(pdf))
    assert "Приглашения в Telegram" in flat
    assert "Приглашать некого: все родители класса уже подключили бот." in flat


def test_same_slips_same_bytes_dated_as_asked() -> None:
    slips = [_slip(1), _slip(2)]
    pdf = invitations_pdf(slips, generated=GENERATED)
    assert pdf == invitations_pdf(slips, generated=GENERATED)
    reader = read(pdf)
    assert reader.metadata is not None
    assert reader.metadata.title == "Приглашения в Telegram"
    assert reader.metadata.creation_date == datetime(2026, 11, 23, tzinfo=UTC)
    box = reader.pages[0].mediabox  # A4
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_a_slip_for_both_messengers_has_a_qr_link_and_code_for_each() -> None:
    slip = _slip(1, ("telegram", "max"), pupils=("Соколов Пётр Андреевич",))
    pdf = invitations_pdf([slip], messengers=("telegram", "max"), generated=GENERATED)
    telegram, max_ = slip.invites
    text = pdf_text(pdf)
    for expected in (
        "Уведомления из школы в Telegram или MAX",
        telegram.url,
        f"Код: {telegram.code}",
        max_.url,
        f"Код: {max_.code}",
    ):
        assert text.count(expected) == 1, expected
    flat = _flat(text)
    for step in (
        "1. Откройте камеру телефона и наведите её на QR-код мессенджера, которым пользуетесь "
        "(достаточно одного), или откройте его ссылку ниже.",
        "2. Нажмите кнопку запуска бота: в Telegram — «Запустить» (Start), в MAX — «Начать».",
        "3. Бот подтвердит подключение и назовёт имя ребёнка.",
        "Отправьте боту из неё «/start», пробел и код под ней.",
        "Ссылки и коды действуют до 06.12.2026 включительно.",
    ):
        assert step in flat, step
    # Each code under its messenger's name, and each scans to its own link.
    assert re.search(r"Telegram\s+MAX", text), text
    assert _scan(pdf) == [telegram.url, max_.url]
    reader = read(pdf)
    assert reader.metadata is not None
    assert reader.metadata.title == "Приглашения в Telegram и MAX"


def test_slips_with_two_codes_go_four_to_a_page_at_full_size() -> None:
    slips = [_slip(n, ("telegram", "max")) for n in range(1, 6)]
    slips.insert(2, _slip(9, ("max",)))  # linked in Telegram already: invited to MAX only
    pdf = invitations_pdf(slips, messengers=("telegram", "max"), generated=GENERATED)
    assert pdf_pages(pdf) == 2
    pages = pdf_text(pdf).split("\f")
    assert slips[3].guardian in pages[0] and slips[4].guardian in pages[1]
    assert "Уведомления из школы в MAX" in pages[0]
    assert "В MAX нажмите «Начать»." in _flat(pages[0])
    assert sorted(_scan(pdf)) == sorted(i.url for s in slips for i in s.invites)
    for page in read(pdf).pages:
        printed = _placed_sizes(page)
        assert printed and all(width >= 33 for width in printed.values()), printed


def test_nobody_to_invite_in_both_messengers_says_so_under_their_names() -> None:
    flat = _flat(pdf_text(invitations_pdf([], messengers=("telegram", "max"))))
    assert "Приглашения в Telegram и MAX" in flat
    assert "Приглашать некого" in flat


# -- The service, on the real database ------------------------------------------------------------

ADMIN = Principal(role=Role.admin, token_id=None)
TTL = timedelta(days=14)


async def _class_7b(api: httpx.AsyncClient) -> None:
    """7Б of school s17: Абрамов (g-5), Ёлкин (two guardians), and two Соколовы with one
    mother (g-1); 7А next door with a pupil of its own."""
    await school_with_class(api)
    await pupil_with_guardian(
        api, "st-1", "g-1", full_name="Соколова Вера Андреевна", guardian_name="Соколова Ирина"
    )
    await pupil_with_guardian(
        api,
        "st-2",
        "g-1",
        full_name="Соколов Пётр Андреевич",
        guardian_name="Соколова Ирина",
        extra_students=("st-1",),
    )
    await pupil_with_guardian(
        api, "st-3", "g-3", full_name="Ёлкин Артём Ильич", guardian_name="Ёлкина Ольга"
    )
    await put(api, "/v1/guardians/g-4", {"full_name": "Ёлкин Борис", "student_ids": ["st-3"]})
    await pupil_with_guardian(
        api, "st-4", "g-5", full_name="Абрамов Илья Петрович", guardian_name="Абрамова Нина"
    )
    await put(api, "/v1/classes/7a", {"school_id": "s17", "name": "7А"})
    await pupil_with_guardian(
        api, "st-9", "g-9", klass="7a", full_name="Чужой Ученик", guardian_name="Чужая Мама"
    )


async def _telegram(code: str) -> str:
    return BOT + code


async def _max(code: str) -> str:
    return MAX_BOT + code


TELEGRAM_ONLY: dict[Messenger, StartLink] = {Messenger.telegram: _telegram}


async def _issue(
    runtime: Runtime,
    clock: FakeClock,
    principal: Principal = ADMIN,
    class_id: str = "7b",
    include_linked: bool = False,
    ttl: timedelta = TTL,
    links: dict[Messenger, StartLink] = TELEGRAM_ONLY,
) -> list[Slip]:
    async with runtime.sessions() as session:
        return await issue_invitations(
            session=session,
            principal=principal,
            class_id=class_id,
            links=links,
            ttl=ttl,
            now=clock(),
            include_linked=include_linked,
        )


async def _link(
    runtime: Runtime,
    clock: FakeClock,
    code: str,
    chat: str,
    messenger: Messenger = Messenger.telegram,
) -> tuple[str, ...]:
    """A parent pressing Start (in MAX: bot_started with the code): the children the bot names."""
    async with runtime.sessions() as session:
        linked = await link_chat(
            session=session,
            code=code,
            chat_id=chat,
            bot_id=None if messenger is Messenger.max else "1",
            now=clock(),
            messenger=messenger,
        )
    return linked.children


def _by_guardian(slips: Sequence[Slip]) -> dict[str, Slip]:
    return {slip.guardian: slip for slip in slips}


async def test_one_slip_per_guardian_in_class_order_naming_all_their_children(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    await _class_7b(api)
    slips = await _issue(runtime, clock)
    # By pupil, then guardian; Ё where a class list has it; Соколова Ирина once, for both.
    assert [(s.pupils, s.guardian) for s in slips] == [
        (("Абрамов Илья Петрович",), "Абрамова Нина"),
        (("Ёлкин Артём Ильич",), "Ёлкин Борис"),
        (("Ёлкин Артём Ильич",), "Ёлкина Ольга"),
        (("Соколов Пётр Андреевич", "Соколова Вера Андреевна"), "Соколова Ирина"),
    ]
    assert {(s.school, s.class_name) for s in slips} == {("Школа № 17", "7Б")}
    assert all(_only(s).url == BOT + _only(s).code for s in slips)
    assert len({_only(s).code for s in slips}) == 4
    # 14 days from noon in Moscow on 23.11: the last whole day is 06.12.
    assert {s.expires for s in slips} == {date(2026, 12, 6)}
    # One audit entry for the batch: the class and how many, no names.
    async with runtime.sessions() as session:
        trail = list(await session.scalars(select(AuditEntry)))
    batch = [e for e in trail if e.action == "invitations.create"]
    assert [(e.subject_type, e.subject_id, e.detail) for e in batch] == [
        ("class", "7b", {"count": 4, "codes": {"telegram": 4}})
    ]
    # What the parent of two sees: the printed QR scans to their link, the bot names both.
    pdf = invitations_pdf(slips, generated=GENERATED)
    assert sorted(_scan(pdf)) == sorted(_only(s).url for s in slips)
    mother = _only(_by_guardian(slips)["Соколова Ирина"])
    assert await _link(runtime, clock, mother.code, "700001") == ("Пётр", "Вера")


async def test_linked_guardians_are_left_out_unless_asked_for(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    await _class_7b(api)
    first = _by_guardian(await _issue(runtime, clock))
    await _link(runtime, clock, _only(first["Абрамова Нина"]).code, "700005")
    again = await _issue(runtime, clock)
    assert "Абрамова Нина" not in _by_guardian(again)
    assert len(again) == 3
    everyone = _by_guardian(await _issue(runtime, clock, include_linked=True))
    assert list(everyone) == ["Абрамова Нина", "Ёлкин Борис", "Ёлкина Ольга", "Соколова Ирина"]
    # All linked: nothing to print, and the PDF says so.
    for n, slip in enumerate(everyone.values()):
        await _link(runtime, clock, _only(slip).code, f"70010{n}")
    assert await _issue(runtime, clock) == []
    text = pdf_text(invitations_pdf([], generated=GENERATED))
    assert "Приглашать некого" in text


async def test_a_new_slip_voids_the_old_one(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    await _class_7b(api)
    old = _only(_by_guardian(await _issue(runtime, clock))["Ёлкина Ольга"])
    clock.advance(60)
    new = _only(_by_guardian(await _issue(runtime, clock))["Ёлкина Ольга"])
    assert new.code != old.code
    with pytest.raises(LinkRefused) as refused:
        await _link(runtime, clock, old.code, "700003")
    assert refused.value.kind is Refusal.replaced
    assert await _link(runtime, clock, new.code, "700003") == ("Артём",)


async def test_only_the_class_teacher_or_an_admin_of_its_school_prints_them(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    await _class_7b(api)
    await put(api, "/v1/staff/t-b", {"school_id": "s17", "full_name": "Иванова Нина Петровна"})
    await put(api, "/v1/staff/t-a", {"school_id": "s17", "full_name": "Петрова Ольга Ивановна"})
    await put(api, "/v1/classes/7b", {"school_id": "s17", "name": "7Б", "class_teacher_id": "t-b"})
    await put(api, "/v1/classes/7a", {"school_id": "s17", "name": "7А", "class_teacher_id": "t-a"})
    await put_school(api, "s18", {"name": "Школа № 18", "timezone": "Europe/Moscow"})

    async def codes() -> int:
        async with runtime.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(LinkCode)) or 0)

    other_teacher = Principal(Role.teacher, token_id=None, school_id="s17", staff_id="t-a")
    other_school = Principal(Role.admin, token_id=None, school_id="s18")
    journal = Principal(Role.integration, token_id=None, school_id="s17")
    for principal in (other_teacher, other_school, journal):
        with pytest.raises(Forbidden):
            await _issue(runtime, clock, principal)
    with pytest.raises(NotFound):
        await _issue(runtime, clock, class_id="7v")
    with pytest.raises(InvalidInput, match="at least 2 days"):  # the slips would expire at home
        await _issue(runtime, clock, ttl=timedelta(hours=12))
    assert await codes() == 0  # refused before a single code was made
    own_teacher = Principal(Role.teacher, token_id=None, school_id="s17", staff_id="t-b")
    assert len(await _issue(runtime, clock, own_teacher)) == 4
    assert [s.guardian for s in await _issue(runtime, clock, other_teacher, "7a")] == ["Чужая Мама"]
    school_admin = Principal(Role.admin, token_id=None, school_id="s17")
    assert len(await _issue(runtime, clock, school_admin)) == 4


async def test_with_a_max_bot_each_guardian_gets_a_code_for_each_messenger(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    await _class_7b(api)
    both = {Messenger.max: _max, Messenger.telegram: _telegram}  # printed Telegram first
    slips = _by_guardian(await _issue(runtime, clock, links=both))
    assert len(slips) == 4
    assert all(s.messengers == ("telegram", "max") for s in slips.values())
    mother = slips["Соколова Ирина"]
    telegram, max_ = mother.invites
    assert (telegram.url, max_.url) == (BOT + telegram.code, MAX_BOT + max_.code)
    # Each code works in its own messenger only.
    with pytest.raises(LinkRefused) as refused:
        await _link(runtime, clock, telegram.code, "4100001", Messenger.max)
    assert refused.value.kind is Refusal.unknown
    assert await _link(runtime, clock, max_.code, "4100001", Messenger.max) == ("Пётр", "Вера")
    nina_telegram = slips["Абрамова Нина"].invites[0]
    assert await _link(runtime, clock, nina_telegram.code, "700005") == ("Илья",)
    # Linked in MAX: invited to Telegram only. Linked in Telegram: to MAX only. Linked in both
    # ("linked"): left out, unless everyone is asked for.
    clock.advance(60)
    again = _by_guardian(await _issue(runtime, clock, links=both))
    assert {name: s.messengers for name, s in again.items()} == {
        "Абрамова Нина": ("max",),
        "Ёлкин Борис": ("telegram", "max"),
        "Ёлкина Ольга": ("telegram", "max"),
        "Соколова Ирина": ("telegram",),
    }
    pdf = invitations_pdf(list(again.values()), messengers=("telegram", "max"))
    assert "Уведомления из школы в MAX" in pdf_text(pdf)
    await _link(runtime, clock, _only(again["Соколова Ирина"]).code, "700001")
    third = _by_guardian(await _issue(runtime, clock, links=both))
    assert "Соколова Ирина" not in third and len(third) == 3
    everyone = _by_guardian(await _issue(runtime, clock, links=both, include_linked=True))
    assert everyone["Соколова Ирина"].messengers == ("telegram", "max")
    # The batch on the audit trail: how many slips, how many codes of each messenger.
    async with runtime.sessions() as session:
        trail = list(await session.scalars(select(AuditEntry)))
    batches = [e.detail for e in trail if e.action == "invitations.create"]
    assert batches == [
        {"count": 4, "codes": {"telegram": 4, "max": 4}},
        {"count": 4, "codes": {"telegram": 3, "max": 3}},
        {"count": 3, "codes": {"telegram": 2, "max": 3}},
        {"count": 4, "codes": {"telegram": 4, "max": 4}},
    ]


async def test_no_messenger_no_slips(
    api: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    await _class_7b(api)
    with pytest.raises(InvalidInput, match="NOTIFIER_MAX_TOKEN"):
        await _issue(runtime, clock, links={})
