"""The console's words in Russian (the default) and English (a staff member whose locale is
`en`). Pages call `t("key", n=3)`; a key missing here fails the test that renders every page,
not a teacher's screen."""

from __future__ import annotations

from collections.abc import Callable

from notifier.rendering import ru_plural

Translate = Callable[..., str]

# key: (Russian, English)
TEXTS: dict[str, tuple[str, str]] = {
    "app": ("Уведомления школы", "School notifications"),
    "skip": ("К содержанию", "Skip to content"),
    "signin.title": ("Вход для сотрудников школы", "Sign in for school staff"),
    "signin.intro": (
        "Введите адрес электронной почты, который школа указала для вас. Мы пришлём ссылку "
        "для входа; она действует {minutes} минут и только один раз.",
        "Enter the email address your school has on file for you. We will send a sign-in link; "
        "it works once, for {minutes} minutes.",
    ),
    "signin.email": ("Электронная почта", "Email"),
    "signin.send": ("Прислать ссылку", "Send me a link"),
    "signin.bot": (
        "Если ваш Telegram подключён к боту школы, отправьте боту команду /console — ссылка "
        "придёт в чат.",
        "If your Telegram is connected to the school's bot, send it /console and the link comes "
        "to the chat.",
    ),
    "signin.admin": ("Вход по токену администратора", "Sign in with the administrator token"),
    "signin.token": ("Токен администратора (NOTIFIER_ADMIN_TOKEN)", "Administrator token"),
    "signin.enter": ("Войти", "Sign in"),
    "signin.sent.title": ("Проверьте почту", "Check your email"),
    "signin.sent": (
        "Если этот адрес есть в списке сотрудников, на него отправлена ссылка для входа. Она "
        "действует {minutes} минут. Письма нет? Проверьте папку «Спам» или попросите "
        "администратора школы указать ваш адрес.",
        "If this address belongs to a member of staff, a sign-in link is on its way. It works for "
        "{minutes} minutes. Nothing came? Look in the spam folder, or ask your school's admin to "
        "put your address on file.",
    ),
    "signin.confirm.title": ("Вход в консоль", "Sign in to the console"),
    "signin.confirm": (
        "Нажмите «Войти», чтобы открыть консоль на этом устройстве.",
        "Press “Sign in” to open the console on this device.",
    ),
    "signin.bad_token": (
        "Токен не подошёл. Проверьте его и попробуйте снова.",
        "That token is not right. Check it and try again.",
    ),
    "link.unknown.title": ("Ссылка не действует", "This link does not work"),
    "link.unknown": (
        "Такой ссылки для входа нет: возможно, она скопирована не полностью.",
        "There is no such sign-in link; perhaps it was not copied whole.",
    ),
    "link.used.title": ("Ссылка уже использована", "This link was already used"),
    "link.used": (
        "Каждая ссылка для входа действует один раз. Запросите новую.",
        "Each sign-in link works once. Ask for a new one.",
    ),
    "link.expired.title": ("Срок действия ссылки истёк", "This link has expired"),
    "link.expired": (
        "Ссылка действует {minutes} минут, а эта уже устарела (или вы запросили более новую). "
        "Запросите новую.",
        "A link works for {minutes} minutes; this one is too old (or a newer one was sent). "
        "Ask for a new one.",
    ),
    "link.again": ("Получить новую ссылку", "Get a new link"),
    "signout": ("Выйти", "Sign out"),
    "nav.classes": ("Мои классы", "My classes"),
    "nav.announcements": ("Объявления", "Announcements"),
    "admin": ("Администратор", "Administrator"),
    "classes.title": ("Мои классы", "My classes"),
    "classes.none": (
        "За вами не закреплено ни одного класса. Если это ошибка, обратитесь к администратору "
        "школы.",
        "No class names you as its class teacher. If that is wrong, ask your school's admin.",
    ),
    "classes.pupils": ("учеников", "pupils"),
    "error.title": ("Что-то пошло не так", "Something went wrong"),
    "error.403.title": ("Нет доступа", "Not allowed"),
    "error.403": (
        "Эта страница относится к классу или школе, которые вам не доступны. Попытка записана в "
        "журнал. Если доступ нужен, обратитесь к администратору школы.",
        "This page belongs to a class or school you do not have access to. The attempt was "
        "logged. If you need access, ask your school's admin.",
    ),
    "error.404.title": ("Не найдено", "Not found"),
    "error.csrf": (
        "Форма устарела или открыта с другого сайта. Обновите страницу и отправьте форму ещё раз.",
        "The form is stale or came from another site. Reload the page and send it again.",
    ),
    "error.throttled": (
        "Слишком много попыток с этого адреса. Попробуйте снова через {seconds} с.",
        "Too many attempts from this address. Try again in {seconds} s.",
    ),
    "back.home": ("На главную", "Home"),
}


def translator(locale: str) -> Translate:
    """`t(key, **values)` in the staff member's language (Russian unless it is English)."""
    english = locale.split("-")[0] == "en"

    def t(key: str, **values: object) -> str:
        ru, en = TEXTS[key]
        text = en if english else ru
        return text.format(**values) if values else text

    return t


def plural(locale: str) -> Callable[[int, str, str, str], str]:
    """Russian plural forms (1 ученик, 3 ученика, 5 учеников); in English, one or many."""
    if locale.split("-")[0] == "en":
        return lambda n, one, few, many: one if n == 1 else many
    return ru_plural
