"""The console's announcement preview: each channel's text as the parent gets it (the same
templates, context and SMS fitting as delivery), checked against a real send."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from pydantic import SecretStr

from notifier.announcements import SAMPLE_GUARDIAN, SAMPLE_PUPIL, Preview, preview
from notifier.auth import Role, create_token
from notifier.channels.sms_text import SmsEncoding, measure
from notifier.config import Settings
from notifier.db.models import Guardian
from notifier.errors import InvalidInput
from notifier.rendering import Renderer, SchoolView
from notifier.runtime import Runtime
from tests.factories import put, put_school
from tests.servers.smtp_server import SmtpServer
from tests.servers.telegram import BotApiServer

PUBLIC_URL = "https://school.example.org"
SCHOOL = SchoolView("s17", "Школа № 17", "Europe/Moscow")
TEACHER = "Иванова Нина Петровна"
LONG = "Уважаемые родители! " + "В пятницу занятия проходят по сокращённому расписанию. " * 5


def _preview(text: str, **kw: object) -> Preview:
    args: dict[str, object] = {
        "renderer": Renderer(),
        "text": text,
        "urgent": False,
        "author": TEACHER,
        "school": SCHOOL,
        "public_url": PUBLIC_URL,
        "sms_max_segments": 2,
        "class_name": "7Б",
    }
    return preview(**{**args, **kw})  # type: ignore[arg-type]


def test_a_short_cyrillic_text_is_one_ucs2_segment_sent_whole() -> None:
    shown = _preview("Завтра собрание в 18:00")
    assert shown.sms_text == "Объявление 7Б: Завтра собрание в 18:00"
    assert (shown.sms_segments, shown.sms_encoding, shown.sms_cut) == (1, SmsEncoding.ucs2, False)
    assert shown.sms_segments == measure(shown.sms_text).segments
    assert "Завтра собрание в 18:00" in shown.telegram_html
    assert f"<i>{TEACHER}</i>" in shown.telegram_html
    assert shown.email_subject == "Объявление для 7Б: Завтра собрание в 18:00"
    assert "Завтра собрание в 18:00" in shown.email_text
    assert "Завтра собрание в 18:00" in shown.email_html
    # The email names the pupil: the sample stands in and is said to be one.
    assert f"(ученик: {SAMPLE_PUPIL})" in shown.email_text
    assert shown.sample_names == (SAMPLE_PUPIL,)
    assert SAMPLE_GUARDIAN not in shown.email_text + shown.telegram_html + shown.sms_text


def test_without_class_author_or_school() -> None:
    shown = _preview("Завтра выходной", class_name=None, author=None, school=None)
    assert shown.sms_text == "Объявление: Завтра выходной" and not shown.sms_cut
    assert "<i>" not in shown.telegram_html and "·" not in shown.telegram_html
    assert "Электронный журнал" in shown.email_html


def test_a_long_text_is_cut_to_the_budget_and_links_to_the_whole() -> None:
    shown = _preview(LONG)
    assert shown.sms_cut
    assert shown.sms_text.endswith(f" {PUBLIC_URL}/a/preview")
    assert shown.sms_segments == 2 == measure(shown.sms_text).segments
    assert "…" in shown.sms_text
    # Telegram and email carry the whole text.
    assert LONG.strip() in shown.telegram_html and LONG.strip() in shown.email_text
    named = _preview(LONG, announcement_id="a1b2")
    assert named.sms_text.endswith(f" {PUBLIC_URL}/a/a1b2")


def test_urgent_previews_the_urgent_templates() -> None:
    shown = _preview("Школа закрыта", urgent=True)
    assert shown.sms_text.startswith("СРОЧНО ")
    assert "Срочное объявление" in shown.telegram_html
    assert shown.email_subject.startswith("Срочно:")


def test_markup_in_the_text_shows_literally() -> None:
    shown = _preview("Принесите <b>тетради</b> & ручки", author="<i>Иванова</i> & Co")
    assert "&lt;b&gt;тетради&lt;/b&gt; &amp; ручки" in shown.telegram_html
    assert "<b>тетради" not in shown.telegram_html
    assert "&lt;i&gt;Иванова&lt;/i&gt; &amp; Co" in shown.telegram_html
    assert "&lt;b&gt;тетради&lt;/b&gt; &amp; ручки" in shown.email_html
    assert "<b>тетради" not in shown.email_html
    assert "Принесите <b>тетради</b> & ручки" in shown.email_text  # plain text: as typed
    assert "Принесите <b>тетради</b> & ручки" in shown.sms_text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "at least 1 character"),
        ("   \n ", "at least 1 character"),
        ("я" * 4001, "at most 4000 characters"),
        ("a\x00b", "NUL"),
    ],
)
def test_the_text_is_checked_as_the_api_checks_it(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as error:
        _preview(text)
    assert error.value.field == "text"
    assert problem in error.value.reason and error.value.reason.startswith("text: ")


def test_the_text_is_trimmed_as_the_api_trims_it() -> None:
    assert (
        _preview("  Привет \n").sms_text == _preview("Привет").sms_text == "Объявление 7Б: Привет"
    )
    assert len(_preview("я" * 4000).telegram_html) > 0


# -- Against a real send -----------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings, bot_api: BotApiServer) -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": SecretStr(bot_api.token),
            "telegram_api_base": bot_api.base,
            "telegram_chat_interval_seconds": 0,
            "telegram_rate_per_second": 1000,
        }
    )


async def _class_with_three_readers(
    api: httpx.AsyncClient, runtime: Runtime, bot_api: BotApiServer
) -> None:
    """Pupil p1 of 7Б with a guardian on each channel: Telegram, email and SMS."""
    await put_school(api, "s17", {"name": "Школа № 17", "timezone": "Europe/Moscow"})
    await put(api, "/v1/staff/t-1", {"school_id": "s17", "full_name": TEACHER})
    await put(api, "/v1/classes/7b", {"school_id": "s17", "name": "7Б", "class_teacher_id": "t-1"})
    await put(
        api, "/v1/students/p1", {"school_id": "s17", "class_id": "7b", "full_name": "Орлова Маша"}
    )
    contacts = {"g-tg": {}, "g-mail": {"email": "mail@parents.example.org"}}
    contacts["g-sms"] = {"phone": "+79160000001"}
    for guardian, contact in contacts.items():
        await put(
            api,
            f"/v1/guardians/{guardian}",
            {"full_name": "Орлова Анна", "student_ids": ["p1"], **contact},
        )
        r = await api.post(f"/v1/guardians/{guardian}/consent", json={"document": "Заявление"})
        assert r.status_code == 201, r.text
    async with runtime.sessions() as session:
        reader = await session.get(Guardian, "g-tg")
        assert reader is not None
        reader.telegram_chat_id, reader.telegram_bot_id = "5001", str(bot_api.bot_id)
        await session.commit()


async def test_the_preview_is_what_the_parents_get(
    api: httpx.AsyncClient,
    runtime: Runtime,
    bot_api: BotApiServer,
    smtp: SmtpServer,
    settings: Settings,
    pump: Callable[[], Awaitable[None]],
) -> None:
    await _class_with_three_readers(api, runtime, bot_api)
    async with runtime.sessions() as session:
        token, _ = await create_token(session=session, role=Role.teacher, staff_id="t-1")
    text = "Собрание <b>в 18:00</b> & не опаздывайте! " + LONG
    r = await api.post(
        "/v1/announcements",
        headers={"Authorization": f"Bearer {token}"},
        json={"audience": {"class_ids": ["7b"]}, "text": text},
    )
    assert r.status_code == 201, r.text
    ident = r.json()["id"]
    await pump()

    shown = preview(
        renderer=runtime.renderer,
        text=text,
        urgent=False,
        author=TEACHER,
        school=SCHOOL,
        class_name="7Б",
        public_url=settings.public_url,
        sms_max_segments=settings.sms_max_segments,
        announcement_id=ident,
    )
    [telegram] = bot_api.accepted
    assert telegram.text == shown.telegram_html
    assert "<b>в 18:00</b> & не опаздывайте!" in telegram.plain  # shown literally

    [path] = list((settings.outbox_dir / "sms").glob("*.json"))
    sms = json.loads(path.read_text())
    assert (sms["text"], sms["segments"]) == (shown.sms_text, shown.sms_segments)
    assert shown.sms_cut and sms["text"].endswith(f"/a/{ident}")

    [mail] = await smtp.wait_for(1)
    assert str(mail.message["Subject"]) == shown.email_subject

    def parent_copy(sample: str) -> str:  # the sample pupil stands where the parent's child is
        assert f"(ученик: {SAMPLE_PUPIL})" in sample
        return sample.replace(f"(ученик: {SAMPLE_PUPIL})", "(ученик: Маша)")

    # Delivery adds the guardian's own unsubscribe link; the rest is the preview's.
    plain = mail.message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    unsubscribe = "Отписаться от таких писем: http://127.0.0.1:8000/unsubscribe/"
    assert plain.startswith(parent_copy(shown.email_text) + unsubscribe)
    html = mail.message.get_body(("html",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    html = re.sub(r'<br><a href="[^"]+/unsubscribe/[^"]+"[^>]*>[^<]+</a>\n', "", html)
    # The preview has no guardian, so no settings link: the delivered email's is put back.
    html = re.sub(
        r'<br><a href="[^"]+/p/[^"]+"[^>]*>Настроить уведомления</a>\n',
        "Чтобы изменить настройки уведомлений, обратитесь к классному руководителю или в школу.\n",
        html,
    )
    assert html.rstrip("\n") == parent_copy(shown.email_html).rstrip("\n")
    assert "Собрание &lt;b&gt;в 18:00&lt;/b&gt; &amp; не опаздывайте!" in html
