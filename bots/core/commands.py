"""The commands: names and what the menu says of them, in Russian and English. Both adapters
register the menu from here (Telegram per language, MAX one list)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommandInfo:
    name: str
    ru: str
    en: str
    menu: bool = True  # shown in the messenger's command menu (the parents' commands)

    def description(self, language: str) -> str:
        return self.en if language == "en" else self.ru


COMMANDS = (
    CommandInfo("marks", "Оценки за эту неделю", "This week's marks"),
    CommandInfo(
        "homework", "Домашнее задание на завтра и на неделю", "Homework for tomorrow and this week"
    ),
    CommandInfo("absences", "Пропуски и опоздания за четверть", "Absences and lateness this term"),
    CommandInfo("summary", "Сводка за прошлую неделю", "Last week's summary"),
    CommandInfo("settings", "Что и когда присылать", "What to send and when"),
    CommandInfo("stop", "Больше не присылать сообщения", "Stop sending messages"),
    CommandInfo("help", "Справка", "Help"),
    # Not in the menu: /start comes with the school's link; the teachers' commands are
    # for the few who linked as staff (the linking message names /announce).
    CommandInfo(
        "start",
        "Подключить чат кодом из школы",
        "Link this chat with the school's code",
        menu=False,
    ),
    CommandInfo(
        "announce",
        "Объявление родителям класса",
        "An announcement to a class's parents",
        menu=False,
    ),
    CommandInfo("cancel", "Отменить объявление", "Cancel the announcement", menu=False),
    CommandInfo(
        "console", "Ссылка для входа в консоль", "A sign-in link to the console", menu=False
    ),
)


def menu(language: str) -> list[tuple[str, str]]:
    """(name, description) of the menu's commands, in that language."""
    return [(c.name, c.description(language)) for c in COMMANDS if c.menu]
