"""The onboarding checklist and its five steps (/console/setup). Nouns counted in sentences
(setup.n.*) hold their forms as "one|few|many" in Russian and "one|other" in English."""

TEXTS: dict[str, tuple[str, str]] = {
    # -- the checklist ---------------------------------------------------------------------
    "setup.title": ("Подключение школы", "Setting up the school"),
    "setup.intro": (
        "{school}: пять шагов, после которых родители начнут получать сообщения из журнала. "
        "Под каждым шагом — что осталось сделать; ссылка ведёт туда, где это делается.",
        "{school}: five steps, after which parents get the journal's messages. Under each step "
        "is what is left to do; the link leads to where it is done.",
    ),
    "setup.progress": ("Готово шагов: {done} из {total}.", "Steps done: {done} of {total}."),
    "setup.steps": ("Шаги подключения", "Setup steps"),
    "setup.done": ("готово", "done"),
    "setup.todo": ("осталось", "left"),
    "setup.step_done": ("Этот шаг выполнен.", "This step is done."),
    "setup.left": ("Осталось:", "Left to do:"),
    "setup.save": ("Сохранить", "Save"),
    "setup.edit": ("Изменить", "Change"),
    "setup.step.school": ("Школа", "School"),
    "setup.step.bot": ("Бот Telegram", "Telegram bot"),
    "setup.step.roster": ("Классы и ученики", "Classes and pupils"),
    "setup.step.staff": ("Сотрудники", "Staff"),
    "setup.step.journal": ("Журнал", "Journal"),
    "setup.about.school": (
        "Часовой пояс, тихие часы, время вечерней сводки и что родители получают по умолчанию.",
        "Time zone, quiet hours, the evening digest's time, and what parents get by default.",
    ),
    "setup.about.bot": (
        "Собственный бот школы из @BotFather.",
        "The school's own bot from @BotFather.",
    ),
    "setup.about.roster": (
        "Классы, затем список учеников и родителей из файла CSV.",
        "Classes, then the list of pupils and guardians from a CSV file.",
    ),
    "setup.about.staff": (
        "Учителя и администраторы, классные руководители, приглашения в консоль.",
        "Teachers and admins, class teachers, invitations to the console.",
    ),
    "setup.about.journal": (
        "Токен, с которым электронный журнал присылает оценки, пропуски и задания.",
        "The token with which the school's journal sends marks, absences and homework.",
    ),
    "setup.n.class": ("класс|класса|классов", "class|classes"),
    "setup.n.pupil": ("ученик|ученика|учеников", "pupil|pupils"),
    "setup.n.guardian": ("родитель|родителя|родителей", "guardian|guardians"),
    "setup.n.staff": ("сотрудник|сотрудника|сотрудников", "member of staff|members of staff"),
    "setup.facts.school": (
        "Часовой пояс {zone}, тихие часы {start}–{end}, сводка в {digest}.",
        "Time zone {zone}, quiet hours {start}–{end}, digest at {digest}.",
    ),
    "setup.facts.bot": ("Бот подключён, токен задан.", "A bot is connected; its token is set."),
    "setup.facts.roster": (
        "{classes}, {pupils}, {guardians}.",
        "{classes}, {pupils}, {guardians}.",
    ),
    "setup.facts.staff": ("В списке: {staff}.", "On the list: {staff}."),
    "setup.facts.journal": (
        "Действующих токенов журнала: {n}.",
        "Integration tokens in force: {n}.",
    ),
    "setup.left.school": (
        "Настройки школы ещё не сохранялись: проверьте часовой пояс, тихие часы и что "
        "получают родители",
        "The school's settings were never saved: check the time zone, quiet hours and what "
        "parents get",
    ),
    "setup.left.bot": ("Бота ещё нет", "No bot yet"),
    "setup.left.no_classes": ("Классов ещё нет", "No classes yet"),
    "setup.left.no_pupils": (
        "Учеников ещё нет: загрузите список",
        "No pupils yet: upload the list",
    ),
    "setup.left.no_guardian": ("{n} без родителей в списке", "{n} with no guardian on the list"),
    "setup.left.no_consent": ("{n} без согласия на обработку данных", "{n} without consent"),
    "setup.left.no_staff": ("Сотрудников ещё нет", "No staff yet"),
    "setup.left.no_teacher": ("{n} без классного руководителя", "{n} without a class teacher"),
    "setup.left.no_email": (
        "Без адреса почты: {n} (ссылка для входа придёт только через бота)",
        "Without an email address: {n} (a sign-in link can only come through the bot)",
    ),
    "setup.left.not_signed_in": (
        "Ещё не входили в консоль: {n}",
        "Not yet signed in to the console: {n}",
    ),
    "setup.left.journal": ("Токена для журнала ещё нет", "No integration token yet"),
    # -- 1. the school ---------------------------------------------------------------------
    "setup.school.saved": ("Настройки школы сохранены.", "The school's settings were saved."),
    "setup.school.time": ("Время", "Time"),
    "setup.school.timezone": ("Часовой пояс", "Time zone"),
    "setup.school.tz_other": ("Другой (укажите ниже)", "Another (type it below)"),
    "setup.school.tz_name": ("Другой часовой пояс", "Another time zone"),
    "setup.school.tz_hint": (
        "Только если вашего пояса нет в списке: название IANA, например Asia/Chita. "
        "Заполненное поле важнее списка.",
        "Only if your zone is not on the list: its IANA name, e.g. Asia/Chita. When filled in, "
        "it wins over the list.",
    ),
    "setup.school.quiet_start": ("Тихие часы: с", "Quiet hours: from"),
    "setup.school.quiet_end": ("Тихие часы: до", "Quiet hours: until"),
    "setup.school.quiet_hint": (
        "В эти часы сообщения ждут утра (кроме срочных объявлений).",
        "In these hours messages wait for the morning (except urgent announcements).",
    ),
    "setup.school.report": ("Время итогов дня", "Time of the day's report"),
    "setup.school.report_hint": (
        "Оценки за день приходят родителям одним сообщением в это время; двойки и контрольные "
        "— сразу.",
        "The day's marks reach parents in one message at this time; 2s and tests at once.",
    ),
    "setup.school.card": (
        "Дополнять итоги дня в Telegram и MAX",
        "Add to the day's report in Telegram and MAX",
    ),
    "setup.school.card_hint": (
        "Оценка, поставленная после итогов дня, дописывается в то же сообщение (без звука), а не "
        "ждёт вечерней сводки. Письма и SMS не меняются.",
        "A mark given after the day's report is added to that message (silently) instead of "
        "waiting for the evening. Emails and SMS do not change.",
    ),
    "setup.school.digest": ("Время вечерней сводки", "Time of the evening digest"),
    "setup.school.digest_hint": (
        "Когда приходит сводка за день тем, кто выбрал «сводкой»; по субботам в это же время — "
        "итоги недели.",
        "When the day's digest goes to those who chose it; on Saturdays at the same time, the "
        "week's summary.",
    ),
    "setup.school.modes": (
        "Что родители получают по умолчанию",
        "What parents get by default",
    ),
    "setup.school.modes_hint": (
        "Родитель может изменить это для себя в боте; его выбор важнее.",
        "A parent may change this for themselves in the bot; their choice wins.",
    ),
    "setup.school.order": ("Порядок каналов", "Order of channels"),
    "setup.school.order_hint": (
        "Сообщение идёт по первому каналу, который есть у родителя; если не дошло — по следующему.",
        "A message goes by the first channel the parent has; if it fails, by the next.",
    ),
    "setup.school.position": ("Канал № {n}", "Channel no. {n}"),
    "setup.school.sms": ("SMS-бюджет", "SMS budget"),
    "setup.school.sms_budget": (
        "SMS-частей в месяц (пусто — без ограничения)",
        "SMS parts a month (empty: no cap)",
    ),
    "setup.school.sms_budget.hint": (
        "Сколько SMS-частей в месяц школа оплачивает; длинное SMS — несколько частей, месяц "
        "считается по часовому поясу школы. На 80% администраторы школы получат предупреждение, "
        "на 100% SMS будут уходить только со срочными объявлениями, остальное — другим каналом "
        "или на бумаге.",
        "How many SMS parts a month the school pays for; a long SMS is several parts, and the "
        "month is the school's time zone's. At 80% the school's admins are told; at 100% only "
        "urgent announcements still go by SMS, the rest by another channel or on paper.",
    ),
    "setup.school.sms_budget.spent": (
        "За {month} израсходовано частей: {segments}",
        "Parts spent in {month}: {segments}",
    ),
    "setup.school.sms_budget.more": ("подробнее", "details"),
    "setup.school.sms_budget.bad": (
        "SMS-бюджет — целое число SMS-частей в месяц, например 5000. Чтобы снять ограничение, "
        "оставьте поле пустым.",
        "The SMS budget is a whole number of SMS parts a month, e.g. 5000. For no cap, leave "
        "the field empty.",
    ),
    "setup.school.sms_budget.high": (
        "SMS-бюджет — не больше {limit} частей в месяц. Чтобы снять ограничение, оставьте поле "
        "пустым.",
        "The SMS budget is at most {limit} parts a month. For no cap, leave the field empty.",
    ),
    "setup.tz.Europe/Kaliningrad": ("Калининград, UTC+2", "Kaliningrad, UTC+2"),
    "setup.tz.Europe/Moscow": ("Москва, UTC+3", "Moscow, UTC+3"),
    "setup.tz.Europe/Samara": ("Самара, UTC+4", "Samara, UTC+4"),
    "setup.tz.Asia/Yekaterinburg": ("Екатеринбург, UTC+5", "Yekaterinburg, UTC+5"),
    "setup.tz.Asia/Omsk": ("Омск, UTC+6", "Omsk, UTC+6"),
    "setup.tz.Asia/Novosibirsk": ("Новосибирск, UTC+7", "Novosibirsk, UTC+7"),
    "setup.tz.Asia/Krasnoyarsk": ("Красноярск, UTC+7", "Krasnoyarsk, UTC+7"),
    "setup.tz.Asia/Irkutsk": ("Иркутск, UTC+8", "Irkutsk, UTC+8"),
    "setup.tz.Asia/Yakutsk": ("Якутск, UTC+9", "Yakutsk, UTC+9"),
    "setup.tz.Asia/Vladivostok": ("Владивосток, UTC+10", "Vladivostok, UTC+10"),
    "setup.tz.Asia/Magadan": ("Магадан, UTC+11", "Magadan, UTC+11"),
    "setup.tz.Asia/Kamchatka": ("Петропавловск-Камчатский, UTC+12", "Kamchatka, UTC+12"),
    "setup.cat.marks": ("Оценки", "Marks"),
    "setup.cat.homework": ("Домашние задания", "Homework"),
    "setup.cat.attendance": ("Посещаемость", "Attendance"),
    "setup.cat.schedule": ("Расписание", "Timetable"),
    "setup.cat.period_marks": ("Итоговые оценки", "Final marks"),
    "setup.cat.comments": ("Комментарии учителей", "Teachers' comments"),
    "setup.cat.announcements": ("Объявления", "Announcements"),
    "setup.cat.summary": ("Итоги недели", "The week's summary"),
    "setup.mode.instant": ("Сразу", "At once"),
    "setup.mode.report": ("В итогах дня", "In the day's report"),
    "setup.mode.digest": ("Вечером", "In the evening"),
    "setup.mode.weekly": ("Раз в неделю", "Once a week"),
    "setup.mode.off": ("Не присылать", "Do not send"),
    # -- 2. the bot ------------------------------------------------------------------------
    "setup.bot.done.saved": (
        "Токен проверен и сохранён.",
        "The token was checked and saved.",
    ),
    "setup.bot.done.mode": ("Режим бота изменён.", "The bot's mode was changed."),
    "setup.bot.now": ("Бот школы", "The school's bot"),
    "setup.bot.token_set": ("токен задан", "token set"),
    "setup.bot.id": ("бот № {id}", "bot no. {id}"),
    "setup.bot.mode_is": ("Режим: {mode}.", "Mode: {mode}."),
    "setup.bot.mode": ("Как бот получает сообщения", "How the bot hears from Telegram"),
    "setup.bot.mode.webhook": ("вебхук", "webhook"),
    "setup.bot.mode.polling": ("опрос (polling)", "polling"),
    "setup.bot.webhook_hint": (
        "Telegram сам присылает сообщения на адрес сервиса. Нужен публичный адрес https.",
        "Telegram posts updates to the service's address. It needs a public https address.",
    ),
    "setup.bot.no_secret": (
        "Недоступно: не задан NOTIFIER_TELEGRAM_WEBHOOK_SECRET (обратитесь к администратору "
        "сервера).",
        "Not available: NOTIFIER_TELEGRAM_WEBHOOK_SECRET is not set (ask the server's operator).",
    ),
    "setup.bot.polling_hint": (
        "Сервис сам спрашивает Telegram (процесс notifier bot; новый бот он начнёт опрашивать "
        "после перезапуска); подходит без публичного адреса.",
        "The service asks Telegram itself (the notifier bot process, which starts asking for a "
        "new bot when it restarts); works without a public address.",
    ),
    "setup.bot.switch": ("Сменить режим", "Change the mode"),
    "setup.bot.first": ("Подключить бота", "Connect a bot"),
    "setup.bot.new": ("Заменить бота", "Replace the bot"),
    "setup.bot.how1": (
        "Откройте в Telegram @BotFather и отправьте /newbot.",
        "In Telegram, open @BotFather and send /newbot.",
    ),
    "setup.bot.how2": (
        "Придумайте имя (его увидят родители) и адрес бота, оканчивающийся на bot.",
        "Choose a name (parents see it) and a username ending in bot.",
    ),
    "setup.bot.how3": (
        "Скопируйте токен из ответа целиком и вставьте ниже.",
        "Copy the whole token from the answer and paste it below.",
    ),
    "setup.bot.token": ("Токен бота", "The bot's token"),
    "setup.bot.token_hint": (
        "Вида 123456789:AAE…; после сохранения он больше не показывается.",
        "Like 123456789:AAE…; once saved it is never shown again.",
    ),
    "setup.bot.check": ("Проверить и сохранить", "Check and save"),
    "setup.bot.no_token": (
        "Сначала подключите бота: вставьте его токен.",
        "Connect a bot first: paste its token.",
    ),
    # -- 3. classes and the roster ---------------------------------------------------------
    "setup.classes.title": ("Классы", "Classes"),
    "setup.classes.intro": (
        "Сначала классы: строки файла ссылаются на них по коду, как в журнале.",
        "Classes first: the file's rows name them by their id, as the journal does.",
    ),
    "setup.classes.name": ("Класс", "Class"),
    "setup.classes.id": ("Код класса", "Class id"),
    "setup.classes.id_hint": (
        "Как в электронном журнале: до 64 знаков, без пробелов и «/». Существующий код — "
        "изменить класс.",
        "As in the school's journal: up to 64 characters, no spaces or “/”. An existing id "
        "changes that class.",
    ),
    "setup.classes.teacher": ("Классный руководитель", "Class teacher"),
    "setup.classes.pupils": ("Учеников", "Pupils"),
    "setup.classes.no_teacher": ("не назначен", "none"),
    "setup.classes.none": ("Классов пока нет.", "No classes yet."),
    "setup.classes.form": ("Добавить или изменить класс", "Add or change a class"),
    "setup.classes.saved": ("Класс сохранён.", "The class was saved."),
    "setup.classes.bad_id": (
        "Код класса: от 1 до 64 знаков, без пробелов и «/».",
        "Class id: 1 to 64 characters, no spaces or “/”.",
    ),
    "setup.classes.taken": (
        "Класс с таким кодом есть в другой школе; выберите другой код.",
        "A class of another school has this id; choose another.",
    ),
    "setup.roster.upload": ("Список учеников и родителей", "The list of pupils and guardians"),
    "setup.roster.intro": (
        "Одна строка — одна пара «ученик — родитель». Сначала проверка: она покажет ошибки по "
        "номерам строк и что изменится, ничего не записывая. Затем — загрузка.",
        "One row per pupil-guardian pair. First a check: it shows the errors by line number "
        "and what would change, writing nothing. Then the import.",
    ),
    "setup.roster.columns": ("Столбцы:", "Columns:"),
    "setup.roster.or": ("или", "or"),
    "setup.roster.school_id": (
        "Код этой школы в столбце школы: {id}.",
        "This school's id in the school column: {id}.",
    ),
    "setup.roster.sample": ("Скачать образец файла", "Download a sample file"),
    "setup.roster.file": ("Файл CSV", "CSV file"),
    "setup.roster.file_hint": (
        "UTF-8 или Windows-1251, разделитель «;» или «,», до 20 МБ.",
        "UTF-8 or Windows-1251, separated by “;” or “,”, up to 20 MB.",
    ),
    "setup.roster.check": ("Проверить файл", "Check the file"),
    "setup.roster.no_file": ("Выберите файл CSV.", "Choose a CSV file."),
    "setup.roster.gone": (
        "Проверенный файл больше не хранится (он хранится час и загружается один раз). "
        "Выберите его снова.",
        "The checked file is no longer kept (it is kept for an hour and imported once). "
        "Choose it again.",
    ),
    "setup.roster.imported": (
        "Загружено строк: {imported}; пропущено строк с ошибками: {skipped}.",
        "Rows imported: {imported}; rows with errors skipped: {skipped}.",
    ),
    "setup.roster.check.title": ("Проверка файла", "Checking the file"),
    "setup.roster.check.intro": (
        "Это проверка: пока ничего не записано.",
        "This is a check: nothing has been written yet.",
    ),
    "setup.roster.check.rows": (
        "Строк в файле: {rows}; без ошибок: {good}; с ошибками: {bad}.",
        "Rows in the file: {rows}; good: {good}; with errors: {bad}.",
    ),
    "setup.roster.check.pupils": (
        "Ученики: будет добавлено {created}, изменено {updated}.",
        "Pupils: {created} would be added, {updated} changed.",
    ),
    "setup.roster.check.guardians": (
        "Родители: будет добавлено {created}, изменено {updated}.",
        "Guardians: {created} would be added, {updated} changed.",
    ),
    "setup.roster.check.links": (
        "Новых связей «ученик — родитель»: {links}; согласий: {consents}.",
        "New pupil-guardian links: {links}; consents: {consents}.",
    ),
    "setup.roster.check.ignored": (
        "Неизвестные столбцы (не загружаются): {columns}.",
        "Unknown columns (not imported): {columns}.",
    ),
    "setup.roster.check.format": (
        "Кодировка {encoding}, разделитель «{delimiter}».",
        "Encoding {encoding}, separator “{delimiter}”.",
    ),
    "setup.roster.check.errors": ("Строки с ошибками: {n}", "Rows with errors: {n}"),
    "setup.roster.check.fix": (
        "Исправьте их в файле и проверьте снова — или загрузите строки без ошибок сейчас, "
        "а исправленные позже.",
        "Fix them in the file and check again, or import the good rows now and the fixed ones "
        "later.",
    ),
    "setup.roster.check.line": ("Строка", "Line"),
    "setup.roster.check.problem": ("Что не так", "What is wrong"),
    "setup.roster.check.clean": ("Ошибок нет.", "No errors."),
    "setup.roster.check.next": ("Что дальше", "What next"),
    "setup.roster.import": ("Загрузить строки без ошибок ({n})", "Import the good rows ({n})"),
    "setup.roster.import_skips": (
        "Строки с ошибками будут пропущены.",
        "The rows with errors will be skipped.",
    ),
    "setup.roster.nothing": (
        "Загружать нечего: ни одна строка не прошла проверку.",
        "Nothing to import: no row passed the check.",
    ),
    "setup.roster.again": ("Проверить другой файл", "Check another file"),
    # -- 4. staff --------------------------------------------------------------------------
    "setup.staff.intro": (
        "Добавьте учителей и администраторов. Пригласить сотрудника можно письмом со ссылкой "
        "для входа или ссылкой на бота в Telegram или MAX.",
        "Add teachers and admins. Invite them by an email with a sign-in link, or by a link to "
        "the bot in Telegram or MAX.",
    ),
    "setup.staff.list": ("Все сотрудники и приглашения", "All staff and invitations"),
    "setup.staff.add": ("Добавить сотрудника", "Add a member of staff"),
    "setup.staff.add_title": ("Новый сотрудник", "A new member of staff"),
    "setup.staff.edit_title": ("Сотрудник: {name}", "Member of staff: {name}"),
    "setup.staff.saved": ("Сотрудник сохранён.", "The member of staff was saved."),
    "setup.staff.id": ("Код сотрудника", "Staff id"),
    "setup.staff.id_hint": (
        "Как в электронном журнале; оставьте пустым, и код будет создан.",
        "As in the school's journal; leave it empty and one is made.",
    ),
    "setup.staff.id_is": ("Код сотрудника: {id}", "Staff id: {id}"),
    "setup.staff.name": ("Фамилия, имя, отчество", "Full name"),
    "setup.staff.role": ("Роль", "Role"),
    "setup.staff.email": ("Электронная почта", "Email"),
    "setup.staff.email_hint": (
        "На неё придёт ссылка для входа в консоль.",
        "The console's sign-in link is sent here.",
    ),
    "setup.staff.locale": ("Язык консоли", "The console's language"),
    "setup.staff.leads": ("Классный руководитель классов", "Class teacher of"),
    "setup.staff.invite": ("Пригласить", "Invite"),
    "setup.staff.telegram": ("Ссылка на бота в Telegram", "A link to the Telegram bot"),
    "setup.staff.max": ("Ссылка на бота в MAX", "A link to the MAX bot"),
    "setup.staff.bad_id": (
        "Код сотрудника: от 1 до 64 знаков, без пробелов и «/».",
        "Staff id: 1 to 64 characters, no spaces or “/”.",
    ),
    "setup.staff.bad_role": (
        "Роль: выберите учителя или администратора школы.",
        "Role: choose teacher or the school's admin.",
    ),
    "setup.staff.taken": (
        "Сотрудник с таким кодом работает в другой школе; выберите другой код.",
        "A member of another school's staff has this id; choose another.",
    ),
    "setup.role.teacher": ("Учитель", "Teacher"),
    "setup.role.admin": ("Администратор школы", "The school's admin"),
    "setup.locale.ru": ("Русский", "Russian"),
    "setup.locale.en": ("English", "English"),
    "setup.staff.link.title": ("Приглашение в бота", "An invitation to the bot"),
    "setup.staff.link.intro": (
        "Передайте ссылку сотруднику ({name}): она откроет бота и свяжет его {app} с "
        "записью сотрудника. Затем в боте работают /announce и /console.",
        "Give {name} this link: it opens the school's bot in {app} and links their chat to "
        "them. Then /announce and /console work in the bot.",
    ),
    "setup.staff.link.open": ("Открыть в {app}", "Open in {app}"),
    "setup.staff.link.url": ("Ссылка", "Link"),
    "setup.staff.link.code": ("Код", "Code"),
    "setup.staff.link.code_hint": (
        "Или отправьте боту: /start {code}",
        "Or send the bot: /start {code}",
    ),
    "setup.staff.link.expires": (
        "Действует до {day}, {time}, один раз; прежние коды сотрудника больше не действуют.",
        "Good until {day}, {time}, once; the member of staff's earlier codes no longer work.",
    ),
    "setup.staff.link.after": (
        "Код показан один раз. Потеряли — создайте новый.",
        "The code is shown once. Lost it? Make a new one.",
    ),
    # -- 5. the journal --------------------------------------------------------------------
    "setup.journal.intro": (
        "Электронный журнал присылает события (оценки, пропуски, задания) на {url} с токеном "
        "интеграции этой школы. Токен действует только для этой школы.",
        "The school's journal posts its events (marks, absences, homework) to {url} with this "
        "school's integration token. The token works for this school only.",
    ),
    "setup.journal.create": ("Новый токен", "A new token"),
    "setup.journal.label": ("Пометка", "Note"),
    "setup.journal.label_hint": (
        "Для кого токен, например «Журнал, сервер школы» (необязательно).",
        "Whom the token is for, e.g. “Journal, school server” (optional).",
    ),
    "setup.journal.make": ("Создать токен", "Create a token"),
    "setup.journal.new_title": ("Токен создан", "The token was made"),
    "setup.journal.once": (
        "Скопируйте его сейчас: он показывается один раз и больше нигде не хранится.",
        "Copy it now: it is shown this once and is not kept anywhere.",
    ),
    "setup.journal.token": ("Токен интеграции", "Integration token"),
    "setup.journal.copy": ("Копировать", "Copy"),
    "setup.journal.copied": ("Скопировано", "Copied"),
    "setup.journal.give": (
        "Передайте его разработчикам журнала вместе с адресом:",
        "Give it to the journal's developers with the address:",
    ),
    "setup.journal.tokens": ("Токены журнала этой школы", "This school's integration tokens"),
    "setup.journal.number": ("№", "No."),
    "setup.journal.created": ("Создан", "Created"),
    "setup.journal.state": ("Состояние", "State"),
    "setup.journal.active": ("действует", "in force"),
    "setup.journal.is_revoked": ("отозван", "revoked"),
    "setup.journal.revoke": ("Отозвать", "Revoke"),
    "setup.journal.revoked": (
        "Токен отозван: журнал с ним больше не принимается.",
        "The token was revoked: the journal is no longer accepted with it.",
    ),
    "setup.journal.none": ("Токенов пока нет.", "No tokens yet."),
}
