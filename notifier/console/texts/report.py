"""The connected-parents report (issue 16): a school's classes, or the region's schools, with
how many families each way of reaching them has; the column headers of its CSV and XLSX."""

TEXTS: dict[str, tuple[str, str]] = {
    "report.title": ("Подключение родителей", "Connected parents"),
    "report.title.school": ("{school}: подключение родителей", "{school}: connected parents"),
    "report.title.region": (
        "Подключение родителей по школам",
        "Connected parents, school by school",
    ),
    "report.as_of": ("По состоянию на {date}", "As of {date}"),
    "report.intro": (
        "Семья — это ученик и его родители (законные представители). Каждая семья учтена один "
        "раз: по лучшему способу связи с кем-либо из её родителей — Telegram, MAX, "
        "электронная почта, SMS, бумага; если сообщения до семьи не доходят — по причине. "
        "Проценты — от числа семей. Цифры годятся для пунктов 12 и 14 формы отчёта о введении "
        "электронных дневников (охват родителей, активация с указанием классов).",
        "A family is a pupil and their guardians. Each family is counted once: by the best way "
        "any of its guardians is reached (Telegram, MAX, email, SMS, paper), or, when our "
        "messages do not reach it, by the reason. Percentages are of the families.",
    ),
    "report.region_intro": (
        "Выберите школу, чтобы увидеть цифры по её классам.",
        "Choose a school to see its figures class by class.",
    ),
    "report.by_schools": ("Все школы района", "Every school of the region"),
    "report.open": ("По классам", "By class"),
    "report.open_label": ("{school}: по классам", "{school}: by class"),
    "report.table": ("Семьи по способу связи", "Families by the way they are reached"),
    "report.class": ("Класс", "Class"),
    "report.school": ("Школа", "School"),
    "report.families": ("Семей", "Families"),
    "report.col.telegram": ("Telegram", "Telegram"),
    "report.col.max": ("MAX", "MAX"),
    "report.col.email": ("Электронная почта", "Email"),
    "report.col.sms": ("SMS", "SMS"),
    "report.col.electronic": ("Всего подключено", "Connected in all"),
    "report.col.paper": ("На бумаге", "On paper"),
    "report.col.no_consent": ("Нет согласия", "No consent"),
    "report.col.opted_out": ("Отказались от объявлений", "Turned announcements off"),
    "report.col.unreachable": ("Канал не работает", "Channel failed"),
    "report.col.no_contact": ("Нет контактов", "No contact"),
    # The downloads give each column twice: the families, and their share.
    "report.file.count": ("{column}, семей", "{column}, families"),
    "report.file.share": ("{column}, %", "{column}, %"),
    "report.total": ("Итого", "Total"),
    "report.none": ("В школе пока нет классов.", "The school has no classes yet."),
    "report.no_schools": ("Школ пока нет.", "There are no schools yet."),
    "report.download": ("Скачать", "Download"),
    "report.csv": ("Таблица CSV", "CSV table"),
    "report.xlsx": ("Книга Excel (XLSX)", "Excel workbook (XLSX)"),
    "report.sheet": ("Отчёт", "Report"),
    "report.legend": ("Что значат столбцы", "What the columns mean"),
    "report.legend.electronic": (
        "Всего подключено — Telegram, MAX, почта и SMS вместе: родители, которые получают "
        "сообщения электронно (активация, пункт 14).",
        "Connected in all: Telegram, MAX, email and SMS together, the families who hear from us "
        "electronically.",
    ),
    "report.legend.paper": (
        "На бумаге — родители попросили бумажную сводку: школа её печатает.",
        "On paper: the guardians asked for a printed summary, which the school prints.",
    ),
    "report.legend.no_consent": (
        "Нет согласия — нет подписанного согласия на обработку персональных данных: сообщения "
        "не отправляются.",
        "No consent: no signed consent to the processing of personal data, so nothing is sent.",
    ),
    "report.legend.opted_out": (
        "Отказались от объявлений — родители отключили объявления школы.",
        "Turned announcements off: the guardians switched the school's announcements off.",
    ),
    "report.legend.unreachable": (
        "Канал не работает — бот в Telegram или MAX заблокирован, почта не принимает письма "
        "или номер не принимает SMS.",
        "Channel failed: the bot was blocked in Telegram or MAX, the mailbox rejects mail or the "
        "number takes no SMS.",
    ),
    "report.legend.no_contact": (
        "Нет контактов — ни Telegram, ни MAX, ни почты, ни телефона (или родители не внесены в "
        "список): выдайте приглашение.",
        "No contact: no Telegram, MAX, email or phone (or no guardian on the roster): hand out "
        "an invitation.",
    ),
}
