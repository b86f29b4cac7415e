"""The guides (issue 16; the regulations ask for guides for each kind of user, 004 §5.3): for
the school's admins, for class teachers, and for parents (public, and printed after the
invitation slips).

A guide is `help.<guide>.title` and `.intro`, then its sections in the order notifier/console/
pages/help.py lists them: `help.<guide>.<section>` is the heading, `.text` the body. In a body
each line is a paragraph; lines that begin «1. », «2. »… are numbered steps, lines that begin
«– » are points of a list. The parents' guide fits one printed A4 page: keep it short."""

TEXTS: dict[str, tuple[str, str]] = {
    "help.title": ("Справка", "Help"),
    "help.intro": (
        "Короткие памятки: как работать с консолью и что рассказать родителям.",
        "Short guides: how to work with the console, and what to tell parents.",
    ),
    "help.print": ("Распечатать", "Print"),
    "help.back": ("Все памятки", "All guides"),
    "help.inv_guide": (
        "Приложить памятку для родителей последней страницей",
        "Add the parents' guide as the last page",
    ),
    # -- for admins ----------------------------------------------------------------------------
    "help.admins.title": ("Памятка администратору школы", "A guide for the school's admin"),
    "help.admins.summary": (
        "Как подключить школу, что на каждой странице, отчёт и персональные данные.",
        "Setting up the school, what each page does, the report and personal data.",
    ),
    "help.admins.intro": (
        "Консоль — это сайт, где школа настраивает уведомления родителям и следит, как они "
        "доходят. Администратор видит всю свою школу; администратор района — все школы.",
        "The console is where the school sets up notifications to parents and watches them go "
        "out. A school's admin sees their whole school; the region's admin sees every school.",
    ),
    "help.admins.start": ("С чего начать", "Where to start"),
    "help.admins.start.text": (
        "Откройте «Подключение»: страница показывает, что ещё осталось сделать. Шаги по порядку:\n"
        "1. Школа: часовой пояс, тихие часы (ночью сообщения ждут утра), время вечерней "
        "сводки, что присылать по умолчанию и в каком порядке пробовать каналы.\n"
        "2. Бот: вставьте токен, который выдал @BotFather. Консоль проверит его и покажет имя "
        "бота; сам токен больше нигде не показывается.\n"
        "3. Ученики и родители: загрузите список в CSV. Сначала пробная проверка покажет "
        "ошибки с номерами строк; исправьте файл и загрузите снова, затем импортируйте.\n"
        "4. Сотрудники: пригласите классных руководителей — по почте придёт ссылка для входа, "
        "а ссылка на бот подключит их {apps}.\n"
        "5. Журнал: создайте токен интеграции и скопируйте его в настройки электронного "
        "журнала. Токен показывается один раз.",
        "Open “Setup”: it shows what is left to do. The steps in order:\n"
        "1. School: time zone, quiet hours (at night messages wait for the morning), the time "
        "of the evening digest, what to send by default and in which order to try channels.\n"
        "2. Bot: paste the token @BotFather gave you. The console checks it and shows the "
        "bot's name; the token itself is never shown again.\n"
        "3. Pupils and guardians: upload the CSV. A dry run first shows errors with line "
        "numbers; fix the file, upload it again, then import.\n"
        "4. Staff: invite the class teachers: an email brings a sign-in link, and the bot's "
        "link connects their {apps}.\n"
        "5. Journal: create an integration token and copy it into the journal's settings. "
        "It is shown once.",
    ),
    "help.admins.pages": ("Что на каждой странице", "What each page does"),
    "help.admins.pages.text": (
        "– «Мои классы» — классы школы; в каждом — кого достигают сообщения и что сделать "
        "с остальными, приглашения и сводка для печати.\n"
        "– «Объявления» — объявления родителям и отчёт о доставке каждого.\n"
        "– «Подключение» — настройка школы по шагам и что осталось сделать.\n"
        "– «Ученики и родители» — поиск; правка почты, телефона, каналов и согласия; "
        "отключение чата и новые коды; удаление родителя.\n"
        "– «Сотрудники» — приглашения в консоль и завершение сеансов.\n"
        "– «Работа сервиса» — события и сообщения за сутки и за месяц, ошибки, очередь; "
        "неразобранные события; поиск в журнале доставки; журнал действий; токены API и "
        "сеансы.\n"
        "– «Отчёт» — подключение родителей по классам, на экране и файлом CSV или Excel.\n"
        "– «Школы» — у администратора района: выбор школы, которую показывают страницы.",
        "– “My classes”: the school's classes; in each, whom the messages reach and what to "
        "do about the rest, invitation slips and the summary for print.\n"
        "– “Announcements”: announcements to parents and each one's delivery report.\n"
        "– “Setup”: setting the school up step by step, and what is left.\n"
        "– “Pupils and guardians”: search; edit email, phone, channels and consent; unlink a "
        "chat and issue new codes; erase a guardian.\n"
        "– “Staff”: invitations to the console and ending sessions.\n"
        "– “Running”: events and messages over a day and a month, failures, the queue; events "
        "that could not be handled; the delivery log; the audit trail; API tokens and sessions.\n"
        "– “Report”: connected parents class by class, on screen and as CSV or Excel.\n"
        "– “Schools”: for the region's admin, the school the pages show.",
    ),
    "help.admins.report": ("Отчёт для управления образования", "The report for the authority"),
    "help.admins.report.text": (
        "«Отчёт» считает семьи (ученик и его родители) по лучшему способу связи: {channels}, "
        "почта, SMS, бумага — и тех, до кого сообщения не доходят, с причиной. Цифры по "
        "классам и проценты годятся для пунктов 12 и 14 формы отчёта о введении электронных "
        "дневников. Скачайте таблицу в CSV или Excel.",
        "“Report” counts families (a pupil and their guardians) by their best way in: "
        "{channels}, email, SMS, paper, and those our messages do not reach, with the reason. "
        "Download the table as CSV or Excel.",
    ),
    "help.admins.data": ("Персональные данные", "Personal data"),
    "help.admins.data.text": (
        "Телефоны и адреса почты показаны скрытыми; показ, любое изменение и удаление "
        "записываются в журнал действий с именем сотрудника.\n"
        "Сообщения уходят только родителям, от которых есть подписанное согласие. Вносите "
        "согласие с реквизитами документа (номер и дата заявления).\n"
        "После удаления родителя остаётся только обезличенная статистика.",
        "Phones and email addresses are shown masked; revealing one, every change and every "
        "erasure go to the audit trail with the staff member's name.\n"
        "Messages go only to guardians whose signed consent is on file. Enter consent with the "
        "document's reference (the form's number and date).\n"
        "After a guardian is erased only anonymous statistics remain.",
    ),
    "help.admins.trouble": ("Если что-то не так", "When something is wrong"),
    "help.admins.trouble.text": (
        "– Родитель не получает сообщения: откройте его класс в «Мои классы» — там сказано "
        "почему (нет согласия, нет контактов, бот заблокирован, почта не принимает письма).\n"
        "– Событие из журнала не дошло: «Работа сервиса» покажет неразобранные события — их "
        "можно просмотреть, повторить или удалить.\n"
        "– Сотрудник потерял телефон: «Сотрудники» → «Завершить сеансы».",
        "– A guardian gets nothing: open their class in “My classes”, which says why (no "
        "consent, no contact, the bot blocked, the mailbox rejects mail).\n"
        "– A journal event did not arrive: “Running” lists the events that could not be "
        "handled; view, replay or discard them.\n"
        "– A member of staff lost their phone: “Staff” → “End sessions”.",
    ),
    # -- for class teachers --------------------------------------------------------------------
    "help.teachers.title": ("Памятка классному руководителю", "A guide for class teachers"),
    "help.teachers.summary": (
        "Вход, кого достигают сообщения, приглашения, объявления и печать.",
        "Signing in, whom messages reach, invitations, announcements and printouts.",
    ),
    "help.teachers.intro": (
        "Школа сама присылает родителям оценки, пропуски и задания из электронного журнала. "
        "В консоли вы видите, кто из родителей вашего класса их получает, приглашаете "
        "остальных и пишете объявления.",
        "The school sends parents marks, absences and homework from the journal by itself. "
        "In the console you see which of your class's parents get them, invite the rest and "
        "write announcements.",
    ),
    "help.teachers.signin": ("Вход", "Signing in"),
    "help.teachers.signin.text": (
        "1. Откройте страницу входа в консоль и введите рабочую почту, которую знает школа.\n"
        "2. Откройте ссылку из письма и нажмите «Войти». Ссылка действует недолго и один раз; "
        "письма нет — проверьте «Спам» или запросите ссылку снова.\n"
        "Если ваш {apps} подключён к боту школы, ссылку для входа пришлёт бот: отправьте ему "
        "/console. Закончили — нажмите «Выйти».",
        "1. Open the console's sign-in page and enter the work email the school has for you.\n"
        "2. Open the link in the email and press “Sign in”. The link works once and not for "
        "long; no email? Look in spam or ask for a link again.\n"
        "If your {apps} is connected to the school's bot, the bot sends the link: send it "
        "/console. When you are done, press “Sign out”.",
    ),
    "help.teachers.reach": ("Кого достигают сообщения", "Whom the messages reach"),
    "help.teachers.reach.text": (
        "«Мои классы» → ваш класс: сколько семей получают сообщения и как ({channels}, почта, "
        "SMS, бумага). Семьи, до которых сообщения не доходят, стоят первыми, а над таблицей "
        "сказано, что сделать: собрать согласия, раздать приглашения, уточнить почту или "
        "телефон.",
        "“My classes” → your class: how many families get the messages and how ({channels}, "
        "email, SMS, paper). Families not reached come first, and above the table it says "
        "what to do: collect consent forms, hand out invitations, ask for an email or phone.",
    ),
    "help.teachers.slips": ("Приглашения для родителей", "Invitations for parents"),
    "help.teachers.slips.text": (
        "На странице класса нажмите «Скачать приглашения (PDF)»: по листку на каждого "
        "неподключённого родителя, с QR-кодом и кодом. Распечатайте, разрежьте и раздайте через "
        "учеников. Новый листок отменяет прежний код этого родителя.\n"
        "Отметьте «Приложить памятку для родителей» — последней страницей будет памятка, как "
        "подключиться и настроить сообщения.",
        "On the class's page press “Download invitations (PDF)”: a slip for each guardian not "
        "yet connected, with a QR code and a code. Print, cut and hand them out through the "
        "pupils. A new slip voids the guardian's earlier code.\n"
        "Tick “Add the parents' guide” to get, as the last page, a guide on connecting and "
        "choosing what to receive.",
    ),
    "help.teachers.announce": ("Объявления", "Announcements"),
    "help.teachers.announce.text": (
        "1. «Объявления» → «Новое объявление»: выберите класс и, если нужно, отдельных учеников.\n"
        "2. Напишите текст. Предпросмотр показывает, как его увидят родители в Telegram, письме "
        "и SMS.\n"
        "3. Отправьте сейчас (в тихие часы — утром), в выбранное время или как срочное — сразу, "
        "даже ночью.\n"
        "Отчёт о доставке показывает, кому доставлено и кому нет; запланированное можно "
        "отменить.",
        "1. “Announcements” → “New announcement”: choose the class and, if need be, some "
        "pupils.\n"
        "2. Write the text. The preview shows it as parents see it in Telegram, email and SMS.\n"
        "3. Send it now (in quiet hours: in the morning), at a chosen time, or as urgent: at "
        "once, even at night.\n"
        "The delivery report shows who got it and who did not; a scheduled one can be "
        "cancelled.",
    ),
    "help.teachers.print": ("Сводка для печати", "The summary for print"),
    "help.teachers.print.text": (
        "Семьям без мессенджера, почты и SMS школа отдаёт сводку на бумаге. На странице класса — "
        "«Сводка для печати»: оценки, пропуски и задания за период, сначала для семей «на "
        "бумаге». Без дат — за прошлую учебную неделю.",
        "Families with no messenger, email or SMS get the summary on paper. On the class's "
        "page, “Summary for print”: marks, absences and homework for a period, families on "
        "paper first. Without dates: the last school week.",
    ),
    "help.teachers.bot": ("Из {apps}", "From {apps}"),
    "help.teachers.bot.text": (
        "Если администратор выдал вам ссылку на бот, объявление классу можно отправить и из "
        "{apps}: команда /announce.",
        "If the admin gave you a link to the bot, you can also announce to your class from "
        "{apps}: the /announce command.",
    ),
    # The messengers the service has bots in, as the guides name them ({apps}, {channels},
    # {start}): "Telegram", or "Telegram или MAX".
    "help.or": (" или ", " or "),
    "help.start.one": ("Нажмите {button}.", "Press {button}."),
    "help.start.several": ("Нажмите кнопку запуска бота: {presses}.", "Press {presses}."),
    "help.start.in": ("в {app} — {button}", "{button} in {app}"),
    "help.button.telegram": ("«Запустить» (Start)", "“Start”"),
    "help.button.max": ("«Начать»", "“Начать” (Start)"),
    # -- for parents ---------------------------------------------------------------------------
    "help.parents.title": ("Памятка для родителей", "A guide for parents"),
    "help.parents.summary": (
        "Как подключить {apps}, настроить и отключить сообщения, что такое согласие.",
        "Connecting {apps}, choosing and stopping messages, what consent is.",
    ),
    "help.parents.intro": (
        "Школа присылает сообщения из электронного журнала: оценки, домашние задания, пропуски "
        "и опоздания, замены в расписании, объявления классного руководителя. Удобнее всего "
        "получать их в {apps}.",
        "The school sends messages from the electronic journal: marks, homework, absences and "
        "lateness, timetable changes, the class teacher's announcements. {apps} is the "
        "easiest way to get them.",
    ),
    "help.parents.connect": ("Как подключить {apps}", "Connecting {apps}"),
    "help.parents.connect.text": (
        "1. Возьмите у классного руководителя листок-приглашение: на нём ваше имя, имя "
        "ребёнка, QR-код и код.\n"
        "2. Наведите камеру телефона на QR-код или откройте ссылку с листка — откроется бот "
        "школы.\n"
        "3. {start} Бот ответит, что чат подключён, и назовёт ребёнка.\n"
        "Ссылка не открывается? Найдите бота по имени из ссылки и отправьте ему «/start», "
        "пробел и код. Код действует один раз и до даты на листке; потеряли листок или срок "
        "истёк — попросите новый.",
        "1. Get an invitation slip from the class teacher: it has your name, your child's "
        "name, a QR code and a code.\n"
        "2. Point your phone's camera at the QR code or open the link on the slip: the "
        "school's bot opens.\n"
        "3. {start} The bot says the chat is connected and names your child.\n"
        "The link does not open? Find the bot by the name in the link and send it “/start”, "
        "a space and the code. A code works once and until the date on the slip; lost the "
        "slip or it expired? Ask for a new one.",
    ),
    "help.parents.settings": ("Что и когда присылать: /settings", "What and when: /settings"),
    "help.parents.settings.text": (
        "Отправьте боту /settings. Для каждого ребёнка выберите, как получать каждый вид "
        "сообщений: сразу, вечерней сводкой или не получать; там же тихие часы — ночью "
        "сообщения ждут утра.\n"
        "Ещё команды: /marks — оценки за неделю, /homework — домашнее задание, /absences — "
        "пропуски, /summary — сводка за прошлую неделю, /help — справка.",
        "Send the bot /settings. For each child choose how to get each kind of message: at "
        "once, in the evening digest, or not at all; and quiet hours, when messages wait for "
        "the morning.\n"
        "Other commands: /marks for the week's marks, /homework, /absences, /summary for last "
        "week's summary, /help.",
    ),
    "help.parents.stop": ("Как отключиться: /stop", "Stopping: /stop"),
    "help.parents.stop.text": (
        "Отправьте боту /stop — сообщения в этот чат больше не придут. Если в школе указаны "
        "ваша почта или телефон, школа продолжит писать туда. Подключиться снова можно по "
        "новому приглашению.",
        "Send the bot /stop and no more messages come to this chat. If the school has your "
        "email or phone, it keeps writing there. To connect again, ask for a new invitation.",
    ),
    "help.parents.consent": ("Что значит согласие", "What consent means"),
    "help.parents.consent.text": (
        "Школа пишет о ребёнке только тем родителям, которые подписали согласие на обработку "
        "персональных данных. Пока согласия нет, бот подключится, но сообщений не будет. "
        "Согласие подписывают в школе; отозвать его можно заявлением в школу — тогда сообщения "
        "прекратятся.",
        "The school writes about a child only to guardians who signed consent to the "
        "processing of personal data. Without it the bot connects, but no messages come. "
        "Consent is signed at school; to withdraw it, write to the school, and the messages "
        "stop.",
    ),
    "help.parents.other": ("Нет {apps}?", "No {apps}?"),
    "help.parents.other.text": (
        "Школа может писать на электронную почту или SMS, а если нужно — печатать сводку на "
        "бумаге. Скажите об этом классному руководителю.",
        "The school can write to your email or by SMS, or print the summary on paper. Tell "
        "the class teacher.",
    ),
    "help.parents.ask": ("Куда обращаться", "Whom to ask"),
    "help.parents.ask.text": (
        "С вопросами о подключении, за новым кодом, чтобы сменить почту или телефон — к "
        "классному руководителю. Если он не может помочь — к администратору школы, который "
        "отвечает за электронный дневник.",
        "For help connecting, a new code, or to change your email or phone, ask the class "
        "teacher; if they cannot help, the school's admin in charge of the electronic diary.",
    ),
}
