"""The words of the messages parents get, in Russian (the default) and English (a guardian whose
locale is `en`): key → (Russian, English), as the console's words are (console/i18n.py). One set
of templates serves both languages: a template says `t("key", n=3)` and the render context's
`locale` picks the language (notifier/rendering.py); Python says `say(language, "key")`.

A text with `|` has plural forms, chosen for `n` by the language's CLDR rule (Babel): Russian
one|few|many (1 оценка, 3 оценки, 5 оценок), English one|other (1 mark, 2 marks).

The digest's path (the day's report, the evening, siblings' news, and the evening by SMS) speaks
both; a single event's own message is still Russian only."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from functools import lru_cache

from babel import Locale

from notifier.categories import TITLES, Category


class Language(StrEnum):
    ru = "ru"
    en = "en"


LANGUAGES = tuple(Language)


def language_of(locale: str | None) -> Language:
    """A guardian's locale as the language of their messages: Russian unless it is one we
    speak (the rule of the parent's own pages: notifier/summaries.py LOCALES)."""
    return Language(locale) if locale in LANGUAGES else Language.ru


# The CLDR plural categories each language's forms are written in, in the order of the `|` parts.
# A category a language's rule gives that is not listed (Russian "other", for fractions) takes
# the last form, as ru_plural always did.
PLURAL_FORMS: dict[Language, tuple[str, ...]] = {
    Language.ru: ("one", "few", "many"),
    Language.en: ("one", "other"),
}


@lru_cache(maxsize=4)
def _babel(language: Language) -> Locale:
    return Locale.parse(language.value)


def plural(language: Language, n: int, forms: Sequence[str]) -> str:
    """The form of a word for n in this language (forms in PLURAL_FORMS' order)."""
    category = _babel(language).plural_form(abs(n))
    order = PLURAL_FORMS[language]
    index = order.index(category) if category in order else len(forms) - 1
    return forms[min(index, len(forms) - 1)]


# The journal's attendance statuses and timetable changes (events/types.py), each with words
# below: attendance.<status>, schedule.<change> (a line) and sms.change.<change> (the SMS).
ATTENDANCE_STATUSES = ("absent", "late", "excused", "present")
SCHEDULE_CHANGES = ("cancelled", "replaced", "moved", "room_changed")


def _table(*entries: tuple[str, str, str]) -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    for key, russian, english in entries:
        if key in table:
            raise RuntimeError(f"notifier/message_words.py defines {key!r} twice: keep one")
        table[key] = (russian, english)
    return table


# The categories' English titles; the Russian ones are the parents' own (categories.TITLES), the
# same the settings page shows (and the console's roster: console/texts/roster.py).
_CATEGORIES_EN: dict[Category, str] = {
    Category.marks: "Marks",
    Category.homework: "Homework",
    Category.attendance: "Attendance",
    Category.schedule: "Timetable",
    Category.period_marks: "Term marks",
    Category.comments: "Teachers' comments",
    Category.announcements: "Announcements",
    Category.summary: "Weekly summary",
}

# key: (Russian, English)
WORDS: dict[str, tuple[str, str]] = _table(
    *((f"category.{c.value}", TITLES[c], _CATEGORIES_EN[c]) for c in Category),
    # -- The digest (templates/_digest): the day's report, the evening, siblings' news --------
    ("digest.report", "Итоги дня", "Day report"),
    ("digest.digest", "Вечерняя сводка", "Evening summary"),
    ("digest.instant", "Новое", "New"),
    ("digest.summary", "Сводка", "Summary"),
    # A homework heading of the evening: "Домашние задания на 24 ноября".
    ("digest.due", "{title} на {day}", "{title} for {day}"),
    ("digest.child", "Ребёнок", "Child"),
    ("digest.other", "Другое", "Other"),
    ("digest.class", "{name} класс", "class {name}"),
    ("digest.nothing", "Новых событий нет.", "Nothing new."),
    (
        "digest.more",
        "…и ещё {n} событие — в электронном журнале|…и ещё {n} события — в электронном журнале"
        "|…и ещё {n} событий — в электронном журнале",
        "…and {n} more in the school's e-journal",
    ),
    # The digest's SMS form (templates/_digest/sms.txt.j2: counts per category).
    ("digest.sms.day", "Сводка за {day}", "Summary for {day}"),
    ("digest.sms.nothing", "новых событий нет", "nothing new"),
    ("digest.sms.marks", "{n} оценка|{n} оценки|{n} оценок", "{n} mark|{n} marks"),
    ("digest.sms.homework", "{n} ДЗ", "{n} HW"),
    ("digest.sms.absences", "{n} пропуск|{n} пропуска|{n} пропусков", "{n} absence|{n} absences"),
    (
        "digest.sms.lates",
        "{n} опоздание|{n} опоздания|{n} опозданий",
        "{n} late arrival|{n} late arrivals",
    ),
    (
        "digest.sms.attendance",
        "{n} отметка посещаемости|{n} отметки посещаемости|{n} отметок посещаемости",
        "{n} attendance mark|{n} attendance marks",
    ),
    (
        "digest.sms.schedule",
        "{n} изменение расписания|{n} изменения расписания|{n} изменений расписания",
        "{n} timetable change|{n} timetable changes",
    ),
    (
        "digest.sms.period_marks",
        "{n} итоговая оценка|{n} итоговые оценки|{n} итоговых оценок",
        "{n} term mark|{n} term marks",
    ),
    (
        "digest.sms.comments",
        "{n} комментарий|{n} комментария|{n} комментариев",
        "{n} comment|{n} comments",
    ),
    (
        "digest.sms.announcements",
        "{n} объявление|{n} объявления|{n} объявлений",
        "{n} announcement|{n} announcements",
    ),
    # How an attendance line's status begins (attendance.*): the SMS form counts by it.
    ("digest.sms.absent", "отсутствовал", "absent"),
    ("digest.sms.late", "опоздал", "late"),
    # -- The email's frame (templates/_layout/email.html.j2) and its text part -----------------
    ("mail.hello", "Здравствуйте!", "Hello!"),
    ("mail.journal", "Электронный журнал", "School e-journal"),
    (
        "mail.auto",
        "Это автоматическое сообщение службы уведомлений школы, отвечать на него не нужно.",
        "This is an automatic message from the school's notification service; there is no need "
        "to reply.",
    ),
    (
        "mail.auto.school",
        "Это автоматическое сообщение службы уведомлений школы ({school}), отвечать на него не "
        "нужно.",
        "This is an automatic message from the notification service of {school}; there is no "
        "need to reply.",
    ),
    ("mail.settings", "Настроить уведомления", "Notification settings"),
    (
        "mail.settings.ask",
        "Чтобы изменить настройки уведомлений, обратитесь к классному руководителю или в школу.",
        "To change your notifications, ask the class teacher or the school.",
    ),
    ("mail.unsubscribe", "Отписаться от таких писем", "Unsubscribe from these emails"),
    # -- A line of the digest (templates/<kind>/line.txt.j2) -----------------------------------
    ("attendance.absent", "отсутствовал(а)", "absent"),
    ("attendance.late", "опоздал(а)", "late"),
    ("attendance.excused", "отсутствовал(а) по уважительной причине", "absent, excused"),
    ("attendance.present", "присутствовал(а)", "present"),
    ("schedule.cancelled", "отменён", "cancelled"),
    ("schedule.replaced", "замена", "substitute teacher"),
    ("schedule.moved", "перенесён", "moved"),
    ("schedule.room_changed", "смена кабинета", "room change"),
    ("line.mark", "Оценка {value}", "Mark {value}"),
    ("line.mark.word", "оценка", "mark"),
    ("line.weight", "вес {weight}", "weight {weight}"),
    ("line.corrected", "исправлено", "corrected"),
    ("line.of_day", "за {day}", "for {day}"),
    ("line.deleted", "удалена", "deleted"),
    ("line.term_mark", "Итоговая оценка", "Term mark"),
    ("line.homework", "Домашнее задание", "Homework"),
    ("line.due", "до {day}", "due {day}"),
    ("line.individual", "индивидуальное", "individual"),
    ("line.changed", "изменено", "changed"),
    ("line.lesson", "урок", "lesson"),
    ("line.lesson.number", "{number}-й урок", "lesson {number}"),
    ("line.attendance", "отметка посещаемости", "attendance mark"),
    ("line.late_by", "на {minutes} мин", "by {minutes} min"),
    ("line.substitute", "замена — {teacher}", "substitute teacher {teacher}"),
    ("line.moved_to", "перенесён на {time}", "moved to {time}"),
    ("line.room_change_to", "смена кабинета: {room}", "room changed to {room}"),
    ("line.change", "изменение", "change"),
    ("line.room", "каб. {room}", "room {room}"),
    ("line.teacher", "учитель: {teacher}", "teacher: {teacher}"),
    ("line.at", "в {time}", "at {time}"),
    ("line.teacher.unnamed", "Учитель", "Teacher"),
    ("line.comment", "комментарий", "comment"),
    ("line.urgent", "Срочно", "Urgent"),
    # -- The day's SMS (delivery/day_sms): short words; the English ones in GSM-7, which
    # fits 160 characters a segment where UCS-2 fits 70 ------------------------------------
    ("sms.work.control", "кр", "test"),
    ("sms.work.test", "тест", "test"),
    ("sms.work.independent", "ср", "quiz"),
    ("sms.corrected", "испр.", "corr."),
    ("sms.arrow", "→", "->"),
    ("sms.ellipsis", "…", "..."),
    ("sms.mark", "оценка", "mark"),
    ("sms.deleted", "{what} удалена", "{what} deleted"),
    ("sms.absence.lesson", "{status} {number}-й урок", "{status}, lesson {number}"),
    ("sms.lesson", "{number}-й ур.", "lesson {number}"),
    ("sms.change.cancelled", "отмена", "cancelled"),
    ("sms.change.replaced", "замена", "subst."),
    ("sms.change.moved", "перенос", "moved"),
    ("sms.change.room_changed", "каб.", "room"),
    ("sms.final", "итог {subject} {value}", "final {subject} {value}"),
    ("sms.comment", "комм. «{text}»", 'comment "{text}"'),
    ("sms.label.homework", "ДЗ", "HW"),
    ("sms.label.schedule", "расп.", "sched."),
)


def say(language: Language, key: str, n: int | None = None, **values: object) -> str:
    """The words of `key` in this language, with `values` (and `n`) put in; a text with plural
    forms needs `n`. An unknown key raises KeyError naming it."""
    try:
        russian, english = WORDS[key]
    except KeyError:
        raise KeyError(f"no message words {key!r}: add them to notifier/message_words.py") from None
    text = english if language == Language.en else russian
    if "|" in text:
        if n is None:
            raise ValueError(f"message words {key!r} have plural forms: pass n")
        text = plural(language, n, text.split("|"))
    if n is not None:
        values["n"] = n
    return text.format(**values) if values else text


def category_title(category: str, language: Language) -> str:
    """A category's title as parents read it; an unknown category by its own name."""
    key = f"category.{category}"
    return say(language, key) if key in WORDS else category


def attendance_status(status: str, language: Language) -> str:
    """An attendance status as parents read it; one we have no words for as the journal sent it."""
    return say(language, f"attendance.{status}") if status in ATTENDANCE_STATUSES else status
