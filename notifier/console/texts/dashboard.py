"""The admin's dashboard ("Running"): today's figures, the queue and the charts (the menu of
the operations pages has its words in ops.py)."""

TEXTS: dict[str, tuple[str, str]] = {
    "dashboard.title.school": ("{school}: работа сервиса", "{school}: running"),
    "dashboard.title.region": ("Весь регион: работа сервиса", "The whole region: running"),
    "dashboard.region_note": (
        "Цифры всех школ вместе. Чтобы увидеть одну школу, выберите её.",
        "Every school's figures together. To see one school, choose it.",
    ),
    "dashboard.choose": ("Выбрать школу", "Choose a school"),
    "dashboard.whole_region": ("Весь регион", "The whole region"),
    "dashboard.as_of.time": ("Данные на {time}, время {zone}.", "Figures as of {time}, {zone}."),
    "dashboard.refresh": ("обновить", "refresh"),
    "dashboard.refreshing": (
        "Цифры за сегодня обновляются сами каждые 30 секунд.",
        "Today's figures refresh themselves every 30 seconds.",
    ),
    "dashboard.today": ("Сегодня, {date}", "Today, {date}"),
    "dashboard.events": ("Событий из журнала", "Events from the journal"),
    "dashboard.events.none": ("Сегодня событий не было.", "No events today."),
    "dashboard.events.category": ("Раздел", "Category"),
    "dashboard.events.count": ("Событий", "Events"),
    "dashboard.events.other": ("Неизвестного типа", "Of an unknown type"),
    "dashboard.events.unmatched": (
        "Не нашли ученика или класс: {count}.",
        "Pupil or class not found: {count}.",
    ),
    "dashboard.events.ignored": (
        "Без сообщения (присутствие, неизвестный тип): {count}.",
        "No message needed (presence, an unknown type): {count}.",
    ),
    "dashboard.cat.marks": ("Оценки", "Marks"),
    "dashboard.cat.homework": ("Домашние задания", "Homework"),
    "dashboard.cat.attendance": ("Посещаемость", "Attendance"),
    "dashboard.cat.schedule": ("Расписание", "Timetable"),
    "dashboard.cat.period_marks": ("Итоговые оценки", "Final marks"),
    "dashboard.cat.comments": ("Комментарии учителей", "Teachers' comments"),
    "dashboard.sent": ("Отправлено сообщений", "Messages sent"),
    "dashboard.channel": ("Канал", "Channel"),
    "dashboard.messages": ("Сообщений", "Messages"),
    "dashboard.total": ("Всего", "Total"),
    "dashboard.failed": ("Ошибки доставки", "Delivery failures"),
    "dashboard.failed.none": ("Сегодня ошибок нет.", "No failures today."),
    "dashboard.failed.messages": (
        "Не доставлено сообщений (все способы связи отказали)",
        "Messages not delivered (every channel refused)",
    ),
    "dashboard.failed.attempts": ("Неудачные попытки", "Failed attempts"),
    "dashboard.failed.reason": ("Причина", "Reason"),
    "dashboard.failed.outcome": ("Ошибка", "Failure"),
    "dashboard.failed.tries": ("Попыток", "Attempts"),
    "dashboard.outcome.transient": ("временная, повтор", "temporary, retried"),
    "dashboard.outcome.permanent": ("окончательная", "permanent"),
    "dashboard.failed.hint": (
        "Кому не дошло — в журнале доставки; «smtp 550» — почтовый ящик не принимает письма, "
        "«telegram 403» и «MAX 403 chat.denied» — родитель заблокировал бота.",
        "Who missed out is in the delivery log; “smtp 550”: the mailbox refuses our mail, "
        "“telegram 403” and “MAX 403 chat.denied”: the guardian blocked the bot.",
    ),
    "dashboard.skipped": ("Не отправлено по правилам", "Not sent, by the rules"),
    "dashboard.skipped.other": ("Другое (отменено, заменено)", "Other (cancelled, superseded)"),
    "dashboard.queue": ("Очередь", "Queue"),
    "dashboard.queue.due": ("Ждут отправки сейчас", "Waiting to go now"),
    "dashboard.queue.oldest": ("Дольше всех ждёт", "Longest wait"),
    "dashboard.queue.later": (
        "Запланировано на потом (тихие часы, дайджесты, повторы)",
        "Scheduled for later (quiet hours, digests, retries)",
    ),
    "dashboard.stream": (
        "Поток событий (общий для всех школ)",
        "The event stream (shared by every school)",
    ),
    "dashboard.stream.length": ("Записей в потоке", "Entries in the stream"),
    "dashboard.stream.lag": ("Ещё не прочитано", "Not read yet"),
    "dashboard.stream.pending": ("Читается сейчас", "Being read"),
    "dashboard.stream.dead": ("Необработанных", "Dead letters"),
    "dashboard.unknown": ("неизвестно", "unknown"),
    "dashboard.none": ("—", "—"),
    "dashboard.minutes": ("{n} мин", "{n} min"),
    "dashboard.hours": ("{h} ч {m} мин", "{h} h {m} min"),
    "dashboard.days": ("{d} дн {h} ч", "{d} d {h} h"),
    "dashboard.seconds": ("{n} с", "{n} s"),
    "dashboard.chart.hours": (
        "Отправлено по часам за сутки",
        "Sent per hour over the last 24 hours",
    ),
    "dashboard.chart.days": ("Отправлено по дням за 30 дней", "Sent per day over the last 30 days"),
    "dashboard.chart.desc": (
        "Всего {total}; больше всего — {peak_at}: {peak}.",
        "{total} in all; the most, {peak}, at {peak_at}.",
    ),
    "dashboard.chart.empty": ("Ничего не отправлено.", "Nothing was sent."),
    "dashboard.chart.table": ("Числа графика", "The chart's numbers"),
    "dashboard.chart.hour": ("Час", "Hour"),
    "dashboard.chart.day": ("День", "Day"),
    # This month's SMS against the budget (templates/_console/dashboard_sms.html.j2).
    "dashboard.sms.title": ("SMS за {month}", "SMS in {month}"),
    "dashboard.sms.school": ("Школа", "School"),
    "dashboard.sms.messages": ("Отправлено SMS", "SMS sent"),
    "dashboard.sms.segments": ("SMS-частей", "SMS parts"),
    "dashboard.sms.cost": ("Стоимость", "Cost"),
    "dashboard.sms.no_price": ("оператор не сообщает цену", "the provider gives no price"),
    "dashboard.sms.partial": (
        "Стоимость — только {priced} из {messages} SMS: за остальные оператор цену не сообщил.",
        "The cost is of {priced} of {messages} SMS: the provider gave no price for the rest.",
    ),
    "dashboard.sms.partial_note": (
        "Стоимость неполная: за часть SMS оператор цену не сообщил.",
        "The cost is partial: the provider gave no price for some SMS.",
    ),
    "dashboard.sms.budget": ("Бюджет, частей в месяц", "Budget, parts a month"),
    "dashboard.sms.no_cap": ("без ограничения", "no cap"),
    "dashboard.sms.share": ("Израсходовано", "Spent"),
    "dashboard.sms.level.no_cap": (
        "Бюджет не задан: SMS уходят без ограничения.",
        "No budget is set: SMS go without a cap.",
    ),
    "dashboard.sms.level.under": (
        "В пределах бюджета. На {percent}% администраторы школы получат предупреждение.",
        "Within the budget. At {percent}% the school's admins are told.",
    ),
    "dashboard.sms.level.alert": (
        "Израсходовано не меньше {percent}% бюджета.",
        "At least {percent}% of the budget is spent.",
    ),
    "dashboard.sms.alerted": (
        "Администраторы школы предупреждены.",
        "The school's admins have been told.",
    ),
    "dashboard.sms.level.spent": (
        "Бюджет исчерпан: до конца месяца SMS уходят только со срочными объявлениями; остальное "
        "родители получат другим каналом или на бумаге.",
        "The budget is spent: until the month ends only urgent announcements go by SMS; "
        "guardians get the rest by another channel or on paper.",
    ),
    "dashboard.sms.badge.alert": ("≥ {percent}%", "≥ {percent}%"),
    "dashboard.sms.badge.spent": ("исчерпан", "spent"),
    "dashboard.sms.region_hint": (
        "Месяц каждой школы — по её часовому поясу. Черты на полосе — {percent}% (предупреждение "
        "администраторам) и 100% (SMS только для срочных объявлений).",
        "Each school's month is in its own time zone. The marks on a bar: {percent}% (its admins "
        "are told) and 100% (SMS for urgent announcements only).",
    ),
    "dashboard.sms.set": ("Задать бюджет SMS", "Set an SMS budget"),
    "dashboard.sms.change": ("Изменить бюджет SMS", "Change the SMS budget"),
    "dashboard.sms.none": (
        "В этом месяце школы не отправляли SMS, и бюджеты не заданы.",
        "No school has sent SMS this month, and no budget is set.",
    ),
}
