"""A school for the console to show, made through the REST API as an integration would: a class
teacher and their class, a second class with another teacher, six pupils and their guardians,
who between them reach the school by email, SMS and Telegram, or have given no consent."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.factories import EVERYTHING_NOW

if TYPE_CHECKING:
    from tests.browser.stack import Stack

CONSENT_DOCUMENT = "Заявление о согласии № 1 от 01.09.2026"
LINK_SECONDS = 20


@dataclass(frozen=True)
class Teacher:
    id: str
    full_name: str
    email: str  # where the console's sign-in link goes
    locale: str


@dataclass(frozen=True)
class Pupil:
    id: str
    full_name: str
    class_id: str


@dataclass(frozen=True)
class Guardian:
    id: str
    full_name: str
    pupil_id: str
    email: str | None
    phone: str | None
    telegram_chat_id: int | None  # linked to the bot through a real /start <code>
    consent: bool
    locale: str = "ru"


@dataclass(frozen=True)
class SeededSchool:
    school_id: str
    school_name: str
    class_id: str  # led by `teacher`
    class_name: str
    other_class_id: str  # led by `other_teacher`
    other_class_name: str
    teacher: Teacher
    other_teacher: Teacher
    pupils: tuple[Pupil, ...]
    guardians: tuple[Guardian, ...]

    def pupils_in(self, class_id: str) -> list[Pupil]:
        return [p for p in self.pupils if p.class_id == class_id]

    def guardian_of(self, pupil_id: str) -> Guardian:
        [guardian] = [g for g in self.guardians if g.pupil_id == pupil_id]
        return guardian


def seed_school(
    stack: Stack, n: int, subscriptions: dict[str, Any] = EVERYTHING_NOW
) -> SeededSchool:
    """Make school number `n`: its ids, addresses, phones and chats are its own. Every category
    goes at once unless `subscriptions` says otherwise (REAL_CLOCK: no weekly summary)."""
    prefix = f"b{n}"
    school_id = f"{prefix}-school"
    school_name = f"Школа № {100 + n}"
    class_id, other_class_id = f"{prefix}-5a", f"{prefix}-5b"
    teacher = Teacher(
        id=f"{prefix}-t1",
        full_name="Орлова Наталья Викторовна",
        email=f"{prefix}-teacher@school.example.org",
        locale="ru",
    )
    other_teacher = Teacher(
        id=f"{prefix}-t2",
        full_name="Smith John",
        email=f"{prefix}-other@school.example.org",
        locale="en",
    )
    # Surnames in alphabetical order (А, Б, В, ...): a list sorted by name shows this order.
    rows: list[tuple[str, str, str, dict[str, Any]]] = [
        ("Антонов Артём", class_id, "Антонова Мария Петровна", {"email": True}),
        ("Белова Алиса", class_id, "Белов Олег Игоревич", {"phone": True}),
        ("Васильев Максим", class_id, "Васильева Елена Андреевна", {"telegram": True}),
        ("Григорьева Дарья", class_id, "Григорьев Игорь", {"email": True, "consent": False}),
        ("Дмитриев Лев", class_id, "Dmitrieva Anna", {"email": True, "phone": True, "en": True}),
        ("Егоров Михаил", other_class_id, "Егорова Ольга", {"email": True}),
    ]
    pupils: list[Pupil] = []
    guardians: list[Guardian] = []
    for i, (pupil_name, klass, guardian_name, reach) in enumerate(rows, start=1):
        pupils.append(Pupil(id=f"{prefix}-p{i}", full_name=pupil_name, class_id=klass))
        guardians.append(
            Guardian(
                id=f"{prefix}-g{i}",
                full_name=guardian_name,
                pupil_id=f"{prefix}-p{i}",
                email=f"{prefix}-g{i}@parents.example.org" if reach.get("email") else None,
                # +7 916 555 NN II: a valid Moscow mobile number, one per guardian and school
                phone=f"+7916555{n % 100:02d}{i:02d}" if reach.get("phone") else None,
                telegram_chat_id=7_000_000 + 100 * n + i if reach.get("telegram") else None,
                consent=reach.get("consent", True),
                locale="en" if reach.get("en") else "ru",
            )
        )
    seeded = SeededSchool(
        school_id=school_id,
        school_name=school_name,
        class_id=class_id,
        class_name="5А",
        other_class_id=other_class_id,
        other_class_name="5Б",
        teacher=teacher,
        other_teacher=other_teacher,
        pupils=tuple(pupils),
        guardians=tuple(guardians),
    )
    _create(stack, seeded, subscriptions)
    return seeded


def _put(stack: Stack, path: str, body: dict[str, Any]) -> None:
    response = stack.api.put(path, json=body)
    assert response.status_code == 200, f"PUT {path}: {response.status_code} {response.text}"


def _create(stack: Stack, s: SeededSchool, subscriptions: dict[str, Any]) -> None:
    # No quiet hours: the worker runs on the real clock, and the tests at any hour (the day's
    # report and the evening have their own tests).
    quiet = {"start": "00:00", "end": "00:00"}
    _put(stack, f"/v1/schools/{s.school_id}", {"name": s.school_name, "quiet_hours": quiet})
    _put(stack, f"/v1/schools/{s.school_id}/subscriptions", subscriptions)
    for teacher in (s.teacher, s.other_teacher):
        body: dict[str, Any] = {
            "school_id": s.school_id,
            "full_name": teacher.full_name,
            "email": teacher.email,
            "locale": teacher.locale,
        }
        _put(stack, f"/v1/staff/{teacher.id}", body)
    for class_id, name, teacher in (
        (s.class_id, s.class_name, s.teacher),
        (s.other_class_id, s.other_class_name, s.other_teacher),
    ):
        body = {"school_id": s.school_id, "name": name, "class_teacher_id": teacher.id}
        _put(stack, f"/v1/classes/{class_id}", body)
    for pupil in s.pupils:
        body = {"school_id": s.school_id, "class_id": pupil.class_id, "full_name": pupil.full_name}
        _put(stack, f"/v1/students/{pupil.id}", body)
    for g in s.guardians:
        body = {"full_name": g.full_name, "locale": g.locale, "student_ids": [g.pupil_id]}
        if g.email:
            body["email"] = g.email
        if g.phone:
            body["phone"] = g.phone
        _put(stack, f"/v1/guardians/{g.id}", body)
        if g.consent:
            response = stack.api.post(
                f"/v1/guardians/{g.id}/consent", json={"document": CONSENT_DOCUMENT}
            )
            assert response.status_code == 201, response.text
        if g.telegram_chat_id is not None:
            _link_telegram(stack, g.id, g.telegram_chat_id)


def _link_telegram(stack: Stack, guardian_id: str, chat_id: int) -> None:
    """The parent's side of an invitation: /start <code> in the chat, read by `notifier bot`."""
    response = stack.api.post(f"/v1/guardians/{guardian_id}/telegram-link")
    assert response.status_code == 201, response.text
    stack.bot_api.user_message(chat_id, f"/start {response.json()['code']}")
    deadline = time.monotonic() + LINK_SECONDS
    while not stack.api.get(f"/v1/guardians/{guardian_id}").json()["telegram_linked"]:
        if time.monotonic() > deadline:
            stack.assert_running()
            raise AssertionError(f"the bot did not link {guardian_id}\n{stack.logs()}")
        time.sleep(0.1)
