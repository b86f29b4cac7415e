"""The console's words in Russian (the default) and English (a staff member whose locale is
`en`). Pages call `t("key", n=3)`. The words of the sign-in, the frame and the teacher's pages
are below; each further area of pages keeps its own in a module of `console/texts/`, merged
here (a key defined twice stops the import)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from notifier.console import texts as _areas

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
        "Если ваш Telegram или MAX подключён к боту школы, отправьте боту команду /console — "
        "ссылка придёт в чат.",
        "If your Telegram or MAX is connected to the school's bot, send it /console and the link "
        "comes to the chat.",
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
    "nav.setup": ("Подключение", "Setup"),
    "nav.roster": ("Ученики и родители", "Pupils and guardians"),
    "nav.dashboard": ("Работа сервиса", "Running"),
    "nav.report": ("Отчёт", "Report"),
    "nav.help": ("Справка", "Help"),
    "admin": ("Администратор", "Administrator"),
    "classes.title": ("Мои классы", "My classes"),
    "classes.none": (
        "За вами не закреплено ни одного класса. Если это ошибка, обратитесь к администратору "
        "школы.",
        "No class names you as its class teacher. If that is wrong, ask your school's admin.",
    ),
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
    "class.title": ("{name}: кого достигают сообщения", "{name}: who our messages reach"),
    "class.families": (
        "Сообщения получают {reached} из {total} семей.",
        "{reached} of {total} families get our messages.",
    ),
    "class.all_reached": ("Все семьи класса на связи.", "Every family of the class is reached."),
    "class.todo": ("Что сделать", "What to do"),
    "class.pupil": ("Ученик", "Pupil"),
    "class.guardian": ("Родитель", "Guardian"),
    "class.reach": ("Как получает", "Reached by"),
    "class.last": ("Последнее доставленное", "Last delivered"),
    "class.never": ("—", "—"),
    "class.no_guardian": ("Родители не указаны", "No guardian on the roster"),
    "class.not_reached": ("не на связи", "not reached"),
    "reach.telegram": ("Telegram", "Telegram"),
    "reach.max": ("MAX", "MAX"),
    "reach.email": ("Почта", "Email"),
    "reach.sms": ("SMS", "SMS"),
    "reach.paper": ("На бумаге", "On paper"),
    "reach.no_consent": ("Нет согласия", "No consent"),
    "reach.opted_out": ("Отказались", "Opted out"),
    "reach.unreachable": ("Недоступен", "Unreachable"),
    "reach.no_contact": ("Нет контактов", "No contact"),
    "advice.collect_consent": (
        "Родителей без согласия на обработку данных: {count}. Соберите подписанные согласия.",
        "Guardians without consent on file: {count}. Collect the signed consent forms.",
    ),
    "advice.invite": (
        "Родителей без способа связи: {count}. Распечатайте им приглашения ниже.",
        "Guardians with no way to reach them: {count}. Print them invitation slips below.",
    ),
    "advice.restart_bot": (
        "Заблокировали бота в Telegram или MAX: {count}. Попросите снова нажать «Старт» или "
        "выдайте новое приглашение.",
        "Blocked the bot in Telegram or MAX: {count}. Ask them to press Start again, or hand "
        "them a new slip.",
    ),
    "advice.new_email": (
        "Почта не принимает письма: {count}. Уточните адрес у родителей.",
        "Mailbox rejects our email: {count}. Ask the guardians for another address.",
    ),
    "advice.new_phone": (
        "Номер не принимает SMS: {count}. Уточните номер у родителей.",
        "Number does not take SMS: {count}. Ask the guardians for another number.",
    ),
    "advice.opted_out": (
        "Отказались от объявлений: {count}. Важное сообщайте лично.",
        "Turned announcements off: {count}. Tell them important news in person.",
    ),
    "advice.add_guardian": (
        "Учеников без родителей в списке: {count}. Попросите администратора добавить родителей.",
        "Pupils with no guardian on the roster: {count}. Ask the admin to add one.",
    ),
    "advice.print_paper": (
        "Семей, получающих сводку на бумаге: {count}. Распечатайте сводку за неделю.",
        "Families who get the summary on paper: {count}. Print the weekly summary.",
    ),
    "inv.title": ("Приглашения для родителей", "Invitations for guardians"),
    "inv.intro": (
        "PDF с листками для печати: на каждом QR-код и ссылка на бот школы в {apps} с новым "
        "кодом. Новый листок отменяет прежний код этого родителя.",
        "A PDF of slips to print: each has a QR code and a link to the school's bot in {apps} "
        "with a fresh code. A new slip voids the guardian's earlier code.",
    ),
    "inv.linked": (
        "Включить уже подключённых родителей",
        "Include guardians who are already connected",
    ),
    "inv.make": ("Скачать приглашения (PDF)", "Download invitations (PDF)"),
    "inv.several": (
        "Родитель выбирает мессенджер сам: на листке коды обоих. Кто уже подключил один, "
        "получает листок для другого.",
        "The guardian chooses the messenger: a slip has a code for each. One who has linked "
        "one of them gets a slip for the other.",
    ),
    "inv.and": (" и ", " and "),
    "inv.no_messenger": (
        "Ни Telegram, ни MAX не настроены, приглашения недоступны.",
        "Neither Telegram nor MAX is configured, so there are no invitations.",
    ),
    "print.title": ("Сводка для печати", "Summary for print"),
    "print.intro": (
        "Оценки, пропуски и задания за период; сначала семьи, получающие сводку на бумаге. "
        "Без дат — за прошлую учебную неделю.",
        "Marks, absences and homework for a period; families on paper first. Without dates: "
        "the last school week.",
    ),
    "print.from": ("С", "From"),
    "print.to": ("По", "To"),
    "print.everyone": (
        "Все ученики, не только «на бумаге»",
        "Every pupil, not only those on paper",
    ),
    "print.pdf": ("Открыть PDF", "Open the PDF"),
    "print.html": ("Открыть страницу для печати", "Open the page for print"),
    "class.announce": ("Написать объявление классу", "Write an announcement to the class"),
    "ann.title": ("Объявления", "Announcements"),
    "ann.new": ("Новое объявление", "New announcement"),
    "ann.none": ("Вы ещё не отправляли объявлений.", "You have not sent any announcements yet."),
    "ann.class": ("Класс", "Class"),
    "ann.choose": ("Выберите класс", "Choose a class"),
    "ann.pick": ("Показать учеников", "Show the pupils"),
    "ann.pupils": (
        "Только родителям этих учеников (если никого не отметить — всему классу)",
        "Only to these pupils' guardians (none ticked: the whole class)",
    ),
    "ann.text": ("Текст объявления", "Text of the announcement"),
    "ann.text_hint": (
        "До 4000 знаков. Родители увидят его так, как показано в предпросмотре.",
        "Up to 4,000 characters. Parents see it as the preview shows.",
    ),
    "ann.when": ("Когда отправить", "When to send"),
    "ann.now": ("Сейчас (в тихие часы — утром)", "Now (in quiet hours: in the morning)"),
    "ann.later": ("В выбранное время", "At a chosen time"),
    "ann.at": ("Дата и время (время школы)", "Day and time (the school's time)"),
    "ann.urgent": (
        "Срочное: отправить сразу, даже в тихие часы",
        "Urgent: send at once, even in quiet hours",
    ),
    "ann.preview": ("Предпросмотр", "Preview"),
    "ann.send": ("Отправить", "Send"),
    "ann.preview.empty": (
        "Начните писать текст — здесь появится сообщение так, как его увидят родители.",
        "Start typing: the message appears here as parents will see it.",
    ),
    "ann.preview.sample": (
        "Пример для одного родителя; в настоящем сообщении будут имена его детей.",
        "A sample for one parent; the real message names their own children.",
    ),
    "ann.preview.email": ("Письмо", "Email"),
    "ann.preview.subject": ("Тема", "Subject"),
    "ann.preview.sms": ("SMS", "SMS"),
    "ann.preview.segments": (
        "{segments} из {max} SMS-частей, кодировка {encoding}",
        "{segments} of {max} SMS parts, {encoding} encoding",
    ),
    "ann.preview.cut": (
        "Текст не помещается в SMS: родитель получит начало и ссылку на полный текст.",
        "The text does not fit an SMS: the parent gets its beginning and a link to the whole text.",
    ),
    "ann.status": ("Состояние", "Status"),
    "ann.created": ("Создано", "Created"),
    "ann.open": ("Открыть", "Open"),
    "ann.report": ("Отчёт о доставке", "Delivery report"),
    "ann.delivered": (
        "Доставлено {sent} из {total} родителям.",
        "Delivered to {sent} of {total} guardians.",
    ),
    "ann.refreshing": (
        "Отправка идёт; страница обновляется сама.",
        "Sending; this page refreshes itself.",
    ),
    "ann.scheduled_for": ("Отправится", "Goes at"),
    "ann.cancel": ("Отменить неотправленное", "Cancel what has not gone"),
    "ann.cancelled": ("Объявление отменено.", "The announcement was cancelled."),
    "ann.channel": ("Канал", "Channel"),
    "ann.state.scheduled": ("запланировано", "scheduled"),
    "ann.state.sending": ("отправляется", "sending"),
    "ann.state.sent": ("отправлено", "sent"),
    "ann.state.cancelled": ("отменено", "cancelled"),
    "nav.staff": ("Сотрудники", "Staff"),
    "staff.title": ("Сотрудники", "Staff"),
    "staff.intro": (
        "Пригласите сотрудника: ему придёт письмо со ссылкой для входа (нужен адрес почты в "
        "списке). «Завершить сеансы» выходит из консоли на всех его устройствах.",
        "Invite a member of staff: they get an email with a sign-in link (their address must be "
        "on file). “End sessions” signs them out on every device.",
    ),
    "staff.name": ("Сотрудник", "Member of staff"),
    "staff.role": ("Роль", "Role"),
    "staff.email": ("Почта", "Email"),
    "staff.sessions": ("Открытые сеансы", "Open sessions"),
    "staff.invite": ("Прислать ссылку для входа", "Send a sign-in link"),
    "staff.end": ("Завершить сеансы", "End sessions"),
    "staff.no_email": ("нет адреса", "no address"),
    "staff.done.sent": ("Ссылка отправлена.", "The link was sent."),
    "staff.done.not_sent": (
        "Ссылку отправить не удалось: у сотрудника нет адреса почты, или почта недоступна.",
        "The link could not be sent: no email address on file, or the mail server is away.",
    ),
    "staff.done.ended": ("Сеансы завершены.", "The sessions were ended."),
    "yes": ("да", "yes"),
    "st.sent": ("Отправлено", "Sent"),
    "st.failed": ("Ошибка доставки", "Failed"),
    "st.scheduled": ("Запланировано", "Scheduled"),
    "st.no_channel": ("Нет способа связи", "No channel"),
    "st.no_consent": ("Нет согласия", "No consent"),
    "st.opted_out": ("Отказались", "Opted out"),
    "st.paper": ("На бумаге", "On paper"),
    "st.cancelled": ("Отменено", "Cancelled"),
    "st.erased": ("Удалён", "Erased"),
}


for _area in pkgutil.iter_modules(_areas.__path__):
    _more: dict[str, tuple[str, str]] = importlib.import_module(
        f"{_areas.__name__}.{_area.name}"
    ).TEXTS
    if _twice := sorted(TEXTS.keys() & _more.keys()):
        raise RuntimeError(f"console/texts/{_area.name}.py defines {_twice[0]!r} again")
    TEXTS.update(_more)


def translator(locale: str) -> Translate:
    """`t(key, **values)` in the staff member's language (Russian unless it is English)."""
    english = locale.split("-")[0] == "en"

    def t(key: str, **values: object) -> str:
        ru, en = TEXTS[key]
        text = en if english else ru
        return text.format(**values) if values else text

    return t
