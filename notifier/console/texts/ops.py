"""The operations pages: dead letters and unmatched events, the delivery-log search, the audit
trail, API tokens and console sessions."""

TEXTS: dict[str, tuple[str, str]] = {
    # Shared by the pages
    "ops.nav": ("Разбор и журналы", "Look into it"),
    "ops.nav.deliveries": ("Журнал доставки", "Delivery log"),
    "ops.nav.dead": ("Необработанные сообщения", "Dead letters"),
    "ops.nav.unmatched": ("Нераспознанные события", "Unmatched events"),
    "ops.nav.audit": ("Журнал действий", "Audit trail"),
    "ops.nav.tokens": ("Токены API", "API tokens"),
    "ops.nav.sessions": ("Сеансы консоли", "Console sessions"),
    "ops.any": ("Любой", "Any"),
    "ops.from": ("С даты", "From"),
    "ops.to": ("По дату", "To"),
    "ops.find": ("Найти", "Search"),
    "ops.reset": ("Сбросить", "Clear"),
    "ops.older": ("Более ранние →", "Older →"),
    "ops.open": ("Открыть", "Open"),
    "ops.payload": ("Содержимое", "Payload"),
    "ops.what_now": ("Что сделать", "What to do"),
    "ops.replay": ("Обработать снова", "Replay"),
    "ops.discard": ("Отбросить", "Discard"),
    "ops.copy": ("Скопировать", "Copy"),
    "ops.copied": ("Скопировано", "Copied"),
    "ops.shelf": ("Чьи записи", "Whose entries"),
    "ops.shelf.school": ("Этой школы", "This school's"),
    "ops.shelf.region": ("Без школы (общие для региона)", "Of no school (the region's)"),
    # Dead letters
    "ops.dead.title": ("Необработанные сообщения", "Dead letters"),
    "ops.dead.intro": (
        "События журнала, которые не удалось обработать: нечитаемые, отклонённые или не "
        "сохранённые. Откройте запись, чтобы увидеть причину и содержимое.",
        "Journal events that could not be processed: unreadable, refused or not stored. Open "
        "one to see the reason and the payload.",
    ),
    "ops.dead.none": ("Необработанных сообщений нет.", "There are no dead letters."),
    "ops.dead.at": ("Когда", "When"),
    "ops.dead.reason": ("Причина", "Reason"),
    "ops.dead.id": ("Запись", "Entry"),
    "ops.dead.one": ("Необработанное сообщение {id}", "Dead letter {id}"),
    "ops.dead.entry": ("Номер в потоке событий", "Its id in the event stream"),
    "ops.dead.school": ("Школа", "School"),
    "ops.dead.no_payload": (
        "Содержимого нет: в записи не было события.",
        "No payload: the entry held no event.",
    ),
    "ops.dead.advice": (
        "Если причина устранена (например, ученик добавлен в список), обработайте событие "
        "снова. Если событие неисправимо или журнал уже прислал его заново, отбросьте запись.",
        "If the cause is fixed (say, the pupil is now on the roster), replay the event. If it "
        "cannot be fixed, or the journal has sent it again, discard the entry.",
    ),
    "ops.dead.back": ("Ко всем необработанным", "All dead letters"),
    "ops.dead.done.replayed": (
        "Событие снова отправлено на обработку.",
        "The event is back on the stream.",
    ),
    "ops.dead.done.discarded": ("Запись отброшена.", "The entry was discarded."),
    # Unmatched events
    "ops.um.title": ("Нераспознанные события", "Unmatched events"),
    "ops.um.intro": (
        "События, в которых ученик или класс ещё не внесён в список. Добавьте ученика, затем "
        "обработайте события снова: сообщения уйдут родителям.",
        "Events whose pupil or class is not on the roster yet. Add the pupil, then replay the "
        "events: their messages go to the guardians.",
    ),
    "ops.um.none": ("Нераспознанных событий нет.", "There are no unmatched events."),
    "ops.um.pick": ("Выбрать", "Pick"),
    "ops.um.pick_one": ("Выбрать событие {id}", "Pick event {id}"),
    "ops.um.received": ("Получено", "Received"),
    "ops.um.type": ("Тип", "Type"),
    "ops.um.reason": ("Причина", "Reason"),
    "ops.um.event": ("Событие", "Event"),
    "ops.um.hint": (
        "Если ничего не отметить, «Обработать снова» возьмёт все события этого списка.",
        "With none ticked, “Replay” takes every event of this list.",
    ),
    "ops.um.replay": ("Обработать снова", "Replay"),
    "ops.um.discard": ("Отбросить отмеченные", "Discard the ticked ones"),
    "ops.um.one": ("Нераспознанное событие {id}", "Unmatched event {id}"),
    "ops.um.advice": (
        "Добавьте ученика или класс в список, затем обработайте событие снова. Если сообщение "
        "не нужно (ученик выбыл, пробное событие), отбросьте его: событие останется в журнале, "
        "но сообщения не будет.",
        "Add the pupil or class to the roster, then replay the event. If no message is wanted "
        "(the pupil left, a test event), discard it: the event stays on record, with no message.",
    ),
    "ops.um.back": ("Ко всем нераспознанным", "All unmatched events"),
    "ops.um.done.replayed": (
        "Обработано: {planned}; всё ещё не распознано: {still}.",
        "Planned: {planned}; still unmatched: {still}.",
    ),
    "ops.um.done.discarded": ("Отброшено событий: {count}.", "Events discarded: {count}."),
    # Delivery log
    "ops.dl.title": ("Журнал доставки", "Delivery log"),
    "ops.dl.intro": (
        "Какие сообщения ушли родителям школы, каким способом и чем закончилась доставка. "
        "Родителя и ученика можно искать по имени или идентификатору.",
        "Which messages went to the school's guardians, by which channel, and how delivery "
        "ended. Find a guardian or pupil by name or id.",
    ),
    "ops.dl.guardian": ("Родитель (имя или идентификатор)", "Guardian (name or id)"),
    "ops.dl.pupil": ("Ученик (имя или идентификатор)", "Pupil (name or id)"),
    "ops.dl.event": ("Событие журнала (идентификатор)", "Journal event (id)"),
    "ops.dl.status": ("Состояние", "Status"),
    "ops.dl.channel": ("Канал", "Channel"),
    "ops.dl.results": ("Найденные сообщения", "Messages found"),
    "ops.dl.none": ("Сообщений пока нет.", "No messages yet."),
    "ops.dl.none_found": (
        "Ничего не найдено. Проверьте имя или сбросьте часть условий.",
        "Nothing found. Check the name, or clear some of the conditions.",
    ),
    "ops.dl.created": ("Создано", "Created"),
    "ops.dl.pupil_col": ("Ученик", "Pupil"),
    "ops.dl.guardian_col": ("Родитель", "Guardian"),
    "ops.dl.event_col": ("Событие", "Event"),
    "ops.dl.sent_at": ("доставлено", "delivered"),
    "ops.dl.attempts": ("Попытки: {n}", "Attempts: {n}"),
    "ops.status.scheduled": ("Ждёт отправки", "Scheduled"),
    "ops.status.pending": ("Отправляется", "Sending"),
    "ops.status.sent": ("Доставлено", "Sent"),
    "ops.status.failed": ("Не доставлено", "Failed"),
    "ops.status.skipped": ("Не отправлялось", "Not sent"),
    "ops.status.cancelled": ("Отменено", "Cancelled"),
    "ops.reason.no_consent": ("нет согласия на обработку данных", "no consent on file"),
    "ops.reason.opted_out": ("родитель отказался от таких сообщений", "the guardian opted out"),
    "ops.reason.no_channel": ("нет способа связи", "no way to reach the guardian"),
    "ops.reason.paper": ("родитель получает сводку на бумаге", "the guardian gets paper"),
    "ops.reason.superseded": (
        "отменено журналом до отправки",
        "withdrawn by the journal before it went",
    ),
    "ops.reason.cancelled": ("объявление отменено", "the announcement was cancelled"),
    "ops.reason.erased": ("данные родителя удалены", "the guardian was erased"),
    "ops.reason.over_budget": (
        "SMS-бюджет школы на месяц исчерпан, другого канала нет",
        "the school's SMS budget for the month is spent, and no other channel reaches them",
    ),
    # An attempt: accepted by the channel; and what an SMS's delivery receipt said later.
    "ops.outcome.sent": ("отправлено", "sent"),
    "ops.outcome.transient": ("временная ошибка", "temporary failure"),
    "ops.outcome.permanent": ("отказ", "refused"),
    "ops.outcome.delivered": ("доставлено на телефон", "delivered to the phone"),
    "ops.outcome.undelivered": (
        "не доставлено на телефон, отправляется другим каналом",
        "not delivered to the phone, goes by another channel",
    ),
    # An SMS: what the operator's receipt said, what it was billed; the month's spend.
    "ops.dl.receipt.delivered": ("SMS доставлено на телефон", "SMS delivered to the phone"),
    "ops.dl.receipt.undelivered": (
        "SMS не доставлено на телефон",
        "SMS not delivered to the phone",
    ),
    "ops.dl.billed": ("SMS-частей: {segments}", "SMS parts: {segments}"),
    "ops.dl.billed.cost": ("SMS-частей: {segments}, {cost}", "SMS parts: {segments}, {cost}"),
    "ops.dl.month": (
        "SMS за {month}: сообщений — {messages}, SMS-частей — {segments}",
        "SMS in {month}: {messages} messages, {segments} parts",
    ),
    "ops.dl.month.cost": ("стоимость — {cost}", "costing {cost}"),
    "ops.dl.month.budget": (
        "израсходовано {percent}% бюджета (частей в месяц: {budget})",
        "{percent}% of the budget ({budget} parts a month) spent",
    ),
    "ops.dl.month.more": ("подробнее", "details"),
    # Audit trail
    "ops.audit.title": ("Журнал действий", "Audit trail"),
    "ops.audit.intro": (
        "Кто и когда менял данные школы: согласия, настройки, список учеников, токены, входы "
        "в консоль. Записи содержат только идентификаторы, без личных данных.",
        "Who changed the school's records, and when: consent, preferences, the roster, tokens, "
        "console sign-ins. Entries hold ids only, no personal data.",
    ),
    "ops.audit.intro_region": (
        "Весь журнал действий: все школы и общие для региона записи.",
        "The whole trail: every school, and the region's own entries.",
    ),
    "ops.audit.action": ("Действие", "Action"),
    "ops.audit.subject_type": ("О ком или о чём", "Kind of subject"),
    "ops.audit.subject_id": ("Идентификатор", "Its id"),
    "ops.audit.actor_staff": ("Кто: сотрудник (идентификатор)", "By: staff member (id)"),
    "ops.audit.actor_token": ("Кто: токен (номер)", "By: token (number)"),
    "ops.audit.whole": (
        "Весь журнал, не только этой школы",
        "The whole trail, not only this school's",
    ),
    "ops.audit.none": ("Записей не найдено.", "No entries found."),
    "ops.audit.entries": ("Записи журнала", "Entries"),
    "ops.audit.at": ("Когда", "When"),
    "ops.audit.who": ("Кто", "By"),
    "ops.audit.subject": ("О ком или о чём", "About"),
    "ops.audit.detail": ("Подробности", "Detail"),
    "ops.audit.by_token": ("токен № {id}", "token no. {id}"),
    "ops.audit.kind.guardian": ("родитель", "guardian"),
    "ops.audit.kind.student": ("ученик", "pupil"),
    "ops.audit.kind.class": ("класс", "class"),
    "ops.audit.kind.staff": ("сотрудник", "staff member"),
    "ops.audit.kind.school": ("школа", "school"),
    "ops.audit.kind.token": ("токен", "token"),
    "ops.audit.kind.stream": ("поток событий региона", "the region's event stream"),
    "ops.audit.role.admin": ("администратор", "admin"),
    "ops.audit.role.teacher": ("учитель", "teacher"),
    "ops.audit.role.integration": ("интеграция", "integration"),
    "ops.audit.role.operator": ("оператор (командная строка)", "operator (command line)"),
    "ops.audit.role.console": ("вход в консоль", "console sign-in"),
    "ops.audit.role.guardian": ("сам родитель", "the guardian"),
    # API tokens
    "ops.tok.title": ("Токены API", "API tokens"),
    "ops.tok.intro": (
        "Токены, с которыми программы обращаются к сервису: журнал школы (интеграция), "
        "администратор, учитель. Токен показывается один раз, при создании; отозванный токен "
        "перестаёт действовать сразу.",
        "Tokens that programs call the service with: the school's journal (integration), an "
        "admin, a teacher. A token is shown once, when it is made; a revoked one stops working "
        "at once.",
    ),
    "ops.tok.none": ("Токенов пока нет.", "No tokens yet."),
    "ops.tok.role": ("Назначение", "For"),
    "ops.tok.school": ("Школа", "School"),
    "ops.tok.label": ("Пометка", "Note"),
    "ops.tok.label_hint": (
        "Для кого или для чего токен, например «Электронный журнал». Видна только администраторам.",
        "Whom or what the token is for, e.g. “The e-journal”. Only admins see it.",
    ),
    "ops.tok.created": ("Создан", "Created"),
    "ops.tok.state": ("Состояние", "Status"),
    "ops.tok.active": ("действует", "active"),
    "ops.tok.revoked": ("отозван", "revoked"),
    "ops.tok.region_wide": ("весь регион", "the whole region"),
    "ops.tok.revoke": ("Отозвать", "Revoke"),
    "ops.tok.done.revoked": ("Токен отозван.", "The token was revoked."),
    "ops.tok.new": ("Новый токен школы «{school}»", "A new token for {school}"),
    "ops.tok.for": ("Для чего токен", "What the token is for"),
    "ops.tok.role.integration": ("Интеграция", "Integration"),
    "ops.tok.role.admin": ("Администратор", "Admin"),
    "ops.tok.role.teacher": ("Учитель", "Teacher"),
    "ops.tok.role_hint.integration": (
        "электронный журнал присылает события",
        "the e-journal posts its events",
    ),
    "ops.tok.role_hint.admin": (
        "всё, что может администратор школы",
        "everything a school's admin may do",
    ),
    "ops.tok.role_hint.teacher": (
        "объявления и отчёты своих классов; выберите учителя ниже",
        "announcements and reports for their own classes; choose the teacher below",
    ),
    "ops.tok.teacher": ("Учитель (для токена учителя)", "Teacher (for a teacher's token)"),
    "ops.tok.create": ("Создать токен", "Make the token"),
    "ops.tok.made": ("Токен № {id} создан", "Token no. {id} is made"),
    "ops.tok.once": (
        "Скопируйте токен сейчас: он показывается только один раз и нигде не хранится. "
        "Потеряли — отзовите его и создайте новый.",
        "Copy the token now: it is shown this once and stored nowhere. Lost it? Revoke it and "
        "make a new one.",
    ),
    "ops.tok.token": ("Токен", "Token"),
    "ops.tok.how": (
        "Журнал передаёт его в заголовке Authorization: Bearer <токен> при отправке событий "
        "на /v1/events.",
        "The journal sends it in the header Authorization: Bearer <token> when it posts events "
        "to /v1/events.",
    ),
    "ops.tok.again": (
        "Эта форма уже была отправлена: создан токен № {id}. Он показывается один раз; если "
        "вы его не скопировали, отзовите его и создайте новый.",
        "This form was sent already: token no. {id} was made. It is shown once; if you did not "
        "copy it, revoke it and make a new one.",
    ),
    "ops.tok.again_pending": (
        "Эта форма уже отправлена, токен создаётся. Обновите список через минуту.",
        "This form was sent already and the token is being made. Reload the list in a minute.",
    ),
    # Console sessions
    "ops.ses.title": ("Сеансы консоли", "Console sessions"),
    "ops.ses.intro": (
        "Кто сейчас вошёл в консоль. Завершите сеанс, если устройство потеряно или им "
        "пользуется кто-то другой: при следующем действии человек окажется на странице входа.",
        "Who is signed in to the console. End a session if a device is lost or someone else "
        "uses it: at their next step they land on the sign-in page.",
    ),
    "ops.ses.none": ("Открытых сеансов нет.", "No open sessions."),
    "ops.ses.who": ("Сотрудник", "Member of staff"),
    "ops.ses.created": ("Вход", "Signed in"),
    "ops.ses.seen": ("Последнее действие", "Last seen"),
    "ops.ses.yours": ("это вы", "you"),
    "ops.ses.end": ("Завершить", "End"),
    "ops.ses.end_all": ("Завершить все его сеансы", "End all of theirs"),
    "ops.ses.done.ended": ("Сеанс завершён.", "The session was ended."),
    "ops.ses.done.ended_all": ("Все сеансы сотрудника завершены.", "All their sessions ended."),
}
