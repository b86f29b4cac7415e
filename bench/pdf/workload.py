"""A class of pupils and their week as summary pages: Russian names, a school's twelve
subjects, the marks a week of lessons gives (some weighted, some not counted: н, зач),
absences and lateness. Seeded: the same pages every run."""

from __future__ import annotations

import random
from datetime import date, timedelta

from notifier.reports.marks import Mark, Report, Subject
from notifier.reports.summary import SummaryPage

MONDAY = date(2026, 11, 16)
SUNDAY = MONDAY + timedelta(days=6)
SCHOOL = "Муниципальное бюджетное общеобразовательное учреждение «Средняя школа № 17»"
CLASS = "7Б"
SUBJECTS = (
    "Алгебра",
    "Геометрия",
    "Русский язык",
    "Литература",
    "История",
    "Обществознание",
    "Физика",
    "Биология",
    "География",
    "Английский язык",
    "Информатика",
    "Физическая культура",
)
SURNAMES = (
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
)
FIRST = (("Александр", "Мария"), ("Дмитрий", "Анна"), ("Максим", "Елизавета"), ("Иван", "Софья"))
PATRONYMIC = (("Сергеевич", "Сергеевна"), ("Андреевич", "Андреевна"), ("Ильич", "Ильинична"))
VALUES = ("5", "5", "5", "4", "4", "4", "3", "2", "4-", "5+", "н", "зач")
WEIGHTS = (1, 1, 1, 1, 2, 1.5)
DAYS = tuple(MONDAY + timedelta(days=d) for d in range(5))


def week_of_class(pupils: int = 30, seed: int = 1) -> list[SummaryPage]:
    """The class's printable summary: one page per pupil, twelve subjects of one to four marks
    over the five school days, most pages naming the one or two guardians they go to on paper."""
    rng = random.Random(seed)
    return [_page(rng, n, on_paper=rng.random() < 0.8) for n in range(pupils)]


def guardians_page(seed: int = 1) -> SummaryPage:
    """One guardian's weekly summary, the email's attachment: one pupil, no guardians line."""
    return _page(random.Random(seed), 0, on_paper=False)


def _page(rng: random.Random, n: int, *, on_paper: bool) -> SummaryPage:
    girl = n % 2
    surname = SURNAMES[n % len(SURNAMES)] + ("а" if girl else "")
    name = rng.choice(FIRST)[girl]
    pupil = f"{surname} {name} {rng.choice(PATRONYMIC)[girl]}"
    # As reports/marks.py gives them: subjects by name, each one's marks by day.
    subjects = [
        Subject(
            subject,
            sorted(
                (
                    Mark(subject, rng.choice(VALUES), rng.choice(WEIGHTS), rng.choice(DAYS))
                    for _ in range(rng.randint(1, 4))
                ),
                key=lambda mark: mark.day or MONDAY,
            ),
        )
        for subject in sorted(SUBJECTS)
    ]
    absent = rng.choice((0, 0, 0, 1, 2, 4))
    report = Report(
        f"s-{n}", MONDAY, SUNDAY, subjects, absent, rng.randint(0, absent), rng.choice((0, 0, 1))
    )
    family = SURNAMES[n % len(SURNAMES)]
    parents = (  # mother, father
        f"{family}а {rng.choice(FIRST)[1]} {rng.choice(PATRONYMIC)[1]}",
        f"{family} {rng.choice(FIRST)[0]} {rng.choice(PATRONYMIC)[0]}",
    )
    guardians = parents[: rng.choice((1, 1, 2))] if on_paper else ()
    return SummaryPage(SCHOOL, CLASS, pupil, report, guardians)
