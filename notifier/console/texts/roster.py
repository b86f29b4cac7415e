"""The roster pages: the list and search, a guardian's page (details, channels, consent,
Telegram and MAX, recent messages), erasure, a pupil's page."""

from notifier.categories import ALL_CATEGORIES
from notifier.message_words import Language, category_title

TEXTS: dict[str, tuple[str, str]] = {
    **{
        f"roster.cat.{c}": (category_title(c, Language.ru), category_title(c, Language.en))
        for c in ALL_CATEGORIES
    },
    "roster.title": ("Ученики и родители", "Pupils and guardians"),
    "roster.intro": (
        "Поиск по части ФИО (родителя или ребёнка) и по классу. Телефоны и адреса почты скрыты; "
        "кнопка «Показать» открывает их, и это записывается в журнал действий.",
        "Search by part of a name (the guardian's or a child's) and by class. Phones and email "
        "addresses are hidden; “Show” reveals them, and that is written to the audit trail.",
    ),
    "roster.tab.guardians": ("Родители", "Guardians"),
    "roster.tab.pupils": ("Ученики", "Pupils"),
    "roster.search": ("ФИО или его часть", "Name or part of it"),
    "roster.class": ("Класс", "Class"),
    "roster.all_classes": ("Все классы", "All classes"),
    "roster.find": ("Найти", "Search"),
    "roster.found": ("Найдено: {count}", "Found: {count}"),
    "roster.none": (
        "Никого не нашли. Проверьте написание или выберите другой класс.",
        "Nobody found. Check the spelling or choose another class.",
    ),
    "roster.pages": ("Страницы", "Pages"),
    "roster.page": ("Страница {page} из {pages}", "Page {page} of {pages}"),
    "roster.prev": ("← Предыдущая", "← Previous"),
    "roster.next": ("Следующая →", "Next →"),
    "roster.col.guardian": ("Родитель", "Guardian"),
    "roster.col.pupils": ("Дети", "Children"),
    "roster.col.consent": ("Согласие", "Consent"),
    "roster.col.channels": ("Способы связи", "Channels"),
    "roster.col.contacts": ("Телефон и почта", "Phone and email"),
    "roster.col.pupil": ("Ученик", "Pupil"),
    "roster.col.class": ("Класс", "Class"),
    "roster.col.guardians": ("Родители", "Guardians"),
    "roster.consent.yes": ("есть", "yes"),
    "roster.consent.no": ("нет", "no"),
    "roster.tg.linked": ("Telegram", "Telegram"),
    "roster.tg.not_linked": ("Telegram не подключён", "Telegram not linked"),
    "roster.max.linked": ("MAX", "MAX"),
    "roster.max.not_linked": ("MAX не подключён", "MAX not linked"),
    "roster.phone": ("Телефон", "Phone"),
    "roster.email": ("Почта", "Email"),
    "roster.no_contacts": ("нет телефона и почты", "no phone or email"),
    "roster.reveal": ("Показать", "Show"),
    "roster.reveal.label": ("Показать телефон и почту: {name}", "Show phone and email: {name}"),
    "roster.no_class": ("без класса", "no class"),
    "roster.no_guardians": ("не указаны", "none on the roster"),
    "roster.done.erased": (
        "Данные родителя удалены. Записей журнала доставки сохранено без имени: {kept}.",
        "The guardian's data was erased. Delivery log records kept without the person: {kept}.",
    ),
    # A guardian's page
    "roster.g.pupils": ("Дети", "Children"),
    "roster.g.hidden": (
        "Есть дети в другой школе ({count}); их данные вам не видны.",
        "Has children in another school ({count}); you cannot see them.",
    ),
    "roster.g.contacts": ("Контакты", "Contacts"),
    "roster.g.revealed": (
        "Показ записан в журнал действий.",
        "Shown; written to the audit trail.",
    ),
    "roster.g.linked_since": ("подключён {date}", "linked on {date}"),
    "roster.g.edit": ("Изменить данные", "Edit details"),
    "roster.g.full_name": ("ФИО", "Full name"),
    "roster.g.new_phone": ("Новый телефон", "New phone"),
    "roster.g.new_email": ("Новый адрес почты", "New email address"),
    "roster.g.keep": (
        "Пусто — оставить как есть (сейчас: {current}).",
        "Empty: keep it as it is (now: {current}).",
    ),
    "roster.g.none": ("не указан", "none"),
    "roster.g.clear_phone": ("Удалить телефон", "Remove the phone"),
    "roster.g.clear_email": ("Удалить адрес почты", "Remove the email address"),
    "roster.g.locale": ("Язык сообщений", "Language of messages"),
    "roster.locale.ru": ("русский", "Russian"),
    "roster.locale.en": ("английский", "English"),
    "roster.g.save": ("Сохранить", "Save"),
    "roster.bad.full_name": ("Укажите ФИО родителя.", "Give the guardian's full name."),
    "roster.bad.phone": (
        "Телефон не похож на номер. Пример: +7 916 123-45-67 или 8 916 123-45-67.",
        "The phone is not a phone number. For example: +7 916 123-45-67.",
    ),
    "roster.bad.email": (
        "Адрес почты не подходит. Пример: ivanova@mail.ru.",
        "That is not an email address. For example: ivanova@mail.ru.",
    ),
    "roster.bad.locale": ("Выберите язык из списка.", "Choose a language from the list."),
    "roster.bad.other": ("Не сохранено.", "Not saved."),
    "roster.bad.document": (
        "Укажите реквизиты документа согласия (до 500 знаков).",
        "Give the consent document's reference (up to 500 characters).",
    ),
    "roster.bad.channels": (
        "Порядок способов связи не сохранён.",
        "The order of channels was not saved.",
    ),
    "roster.done.saved": ("Изменения сохранены.", "The changes were saved."),
    "roster.done.prefs": ("Настройки рассылки сохранены.", "The delivery settings were saved."),
    "roster.done.consent": ("Согласие записано.", "Consent was recorded."),
    "roster.done.withdrawn": (
        "Согласие отозвано: сообщения этому родителю больше не отправляются.",
        "Consent was withdrawn: no more messages go to this guardian.",
    ),
    "roster.done.unlinked": (
        "Чат Telegram отключён: сообщения в него больше не идут.",
        "The Telegram chat was unlinked: no more messages go to it.",
    ),
    "roster.done.unlinked_max": (
        "Чат MAX отключён: сообщения в него больше не идут.",
        "The MAX chat was unlinked: no more messages go to it.",
    ),
    "roster.prefs": ("Способы связи и рассылки", "Channels and subscriptions"),
    "roster.prefs.intro": (
        "Меняйте по письменному заявлению родителя. Пустые поля — как принято в школе.",
        "Change these on the guardian's written request. Empty fields: as the school has it.",
    ),
    "roster.prefs.now": ("Сейчас: {order}.", "Now: {order}."),
    "roster.prefs.order": ("Порядок способов связи", "Order of channels"),
    "roster.prefs.pos": ("Способ {n}", "Channel {n}"),
    "roster.prefs.unset": ("—", "—"),
    "roster.prefs.school": ("как в школе", "as the school has it"),
    "roster.prefs.modes": ("Что присылать", "What to send"),
    "roster.prefs.basis": ("Основание (заявление родителя)", "Basis (the guardian's request)"),
    "roster.prefs.save": ("Сохранить настройки", "Save the settings"),
    "roster.channel.telegram": ("Telegram", "Telegram"),
    "roster.channel.max": ("MAX", "MAX"),
    "roster.channel.email": ("Почта", "Email"),
    "roster.channel.sms": ("SMS", "SMS"),
    "roster.channel.paper": ("На бумаге", "On paper"),
    "roster.mode.instant": ("сразу", "at once"),
    "roster.mode.report": ("в итогах дня", "in the day's report"),
    "roster.mode.digest": ("вечером", "in the evening"),
    "roster.mode.weekly": ("раз в неделю", "weekly"),
    "roster.mode.off": ("не присылать", "off"),
    "roster.consent": ("Согласие на обработку данных", "Consent to processing"),
    "roster.consent.on": (
        "Согласие есть: «{document}», записано {date}.",
        "Consent on file: “{document}”, recorded {date}.",
    ),
    "roster.consent.off": (
        "Согласия нет: сообщения этому родителю не отправляются.",
        "No consent on file: no messages go to this guardian.",
    ),
    "roster.consent.document": ("Реквизиты документа согласия", "Consent document reference"),
    "roster.consent.hint": (
        "Например: «Заявление № 12 от 01.09.2026». Новое согласие заменяет прежнее.",
        "For example: “Application No. 12 of 01.09.2026”. A new one replaces the old one.",
    ),
    "roster.consent.record": ("Записать согласие", "Record consent"),
    "roster.consent.withdraw": ("Отозвать согласие", "Withdraw consent"),
    "roster.tg": ("Telegram", "Telegram"),
    "roster.tg.is_linked": ("Чат подключён ({date}).", "A chat is linked ({date})."),
    "roster.tg.is_not_linked": ("Чат не подключён.", "No chat is linked."),
    "roster.tg.unlink": ("Отключить чат", "Unlink the chat"),
    "roster.tg.code": ("Выдать новый код подключения", "Issue a new link code"),
    "roster.tg.code_intro": (
        "Новый код отменяет прежние коды этого родителя.",
        "A new code voids the guardian's earlier codes.",
    ),
    "roster.tg.issued": (
        "Передайте родителю ссылку или код; код действует один раз, до {date}. Больше он "
        "показан не будет.",
        "Give the guardian the link or the code; it works once, until {date}. It is not "
        "shown again.",
    ),
    "roster.tg.code_label": ("Код", "Code"),
    "roster.tg.link_label": ("Ссылка на бот", "Link to the bot"),
    # The same words for each messenger's chat ({app}: Telegram, MAX).
    "roster.chat.unlink": ("Отключить чат {app}", "Unlink the chat in {app}"),
    "roster.chat.code": (
        "Выдать новый код подключения {app}",
        "Issue a new link code for {app}",
    ),
    "roster.chat.qr": (
        "QR-код ссылки на бот в {app}: наведите камеру телефона",
        "QR code of the link to the bot in {app}: point a phone's camera at it",
    ),
    "roster.chat.off": (
        "{app} не настроен ({setting}): коды подключения недоступны.",
        "{app} is not configured ({setting}), so there are no link codes.",
    ),
    "roster.log": ("Последние сообщения", "Recent messages"),
    "roster.log.none": ("Сообщений пока не было.", "No messages yet."),
    "roster.log.all": ("Весь журнал доставки этого родителя", "This guardian's whole delivery log"),
    "roster.log.when": ("Когда", "When"),
    "roster.log.what": ("О чём", "About"),
    "roster.log.pupil": ("Ученик", "Pupil"),
    "roster.log.status": ("Состояние", "Status"),
    "roster.log.channel": ("Канал", "Channel"),
    "roster.st.pending": ("Повторная попытка", "Retrying"),
    "roster.st.superseded": ("Не понадобилось", "No longer needed"),
    "roster.st.over_budget": ("SMS-бюджет исчерпан", "SMS budget spent"),
    "roster.danger": ("Удаление данных", "Erasure"),
    "roster.erase.link": ("Удалить данные родителя…", "Erase the guardian's data…"),
    # Erasure
    "roster.erase.title": ("Удалить данные родителя", "Erase the guardian's data"),
    "roster.erase.who": ("Родитель: {name}", "Guardian: {name}"),
    "roster.erase.goes": ("Что удаляется безвозвратно", "What goes, for good"),
    "roster.erase.name": (
        "ФИО, телефон ({phone}) и адрес почты ({email}), язык сообщений.",
        "The name, phone ({phone}) and email address ({email}), the language of messages.",
    ),
    "roster.erase.links": ("Связь с детьми: {count}.", "Links to children: {count}."),
    "roster.erase.chats": (
        "Чаты Telegram и MAX и всё, что их называет; коды подключения: {codes}.",
        "The Telegram and MAX chats and every trace of them; link codes: {codes}.",
    ),
    "roster.erase.consents": (
        "Записи о согласии ({consents}) и настройки рассылки.",
        "Consent records ({consents}) and delivery settings.",
    ),
    "roster.erase.files": (
        "Файлы отправленных сообщений на сервере; неотправленные сообщения отменяются: {pending}.",
        "The files of sent messages on the server; messages not yet sent are cancelled: {pending}.",
    ),
    "roster.erase.stays": ("Что остаётся", "What stays"),
    "roster.erase.stats": (
        "Анонимная статистика: записи журнала доставки ({kept}) — когда, каким каналом, "
        "доставлено ли — без имени, контактов и чатов; узнать по ним человека нельзя.",
        "Anonymous statistics: the delivery log's records ({kept}) — when, by which channel, "
        "whether delivered — without the name, contacts or chats; they lead back to nobody.",
    ),
    "roster.erase.trail": (
        "Журнал действий: кто и когда удалил данные, без данных родителя.",
        "The audit trail: who erased the data and when, without the guardian's data.",
    ),
    "roster.erase.region_only": (
        "У этого родителя есть дети в другой школе. Удалить его данные может только "
        "администратор региона.",
        "This guardian also has children in another school. Only a region-wide admin can "
        "erase them.",
    ),
    "roster.erase.confirm": (
        "Чтобы подтвердить, введите ФИО родителя: {name}",
        "To confirm, type the guardian's full name: {name}",
    ),
    "roster.erase.submit": ("Удалить безвозвратно", "Erase for good"),
    "roster.erase.mismatch": (
        "Введённое имя не совпадает с ФИО родителя. Данные не удалены.",
        "The name typed does not match the guardian's. Nothing was erased.",
    ),
    "roster.back": ("Вернуться к родителю", "Back to the guardian"),
    "roster.back.list": ("К списку", "Back to the list"),
    # A pupil's page
    "roster.p.class": ("Класс: {name}", "Class: {name}"),
    "roster.p.no_class": ("Класс не указан.", "No class on the roster."),
    "roster.p.guardians": ("Родители", "Guardians"),
    "roster.p.no_guardians": (
        "Родители не указаны: добавьте их через загрузку списка.",
        "No guardian on the roster: add one with the roster upload.",
    ),
}
