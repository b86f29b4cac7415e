"""How many messages a parent gets on a school day of a typical week, at default settings.

    .venv/bin/python -m bench.school_day [--days 5] [--pupils 30] [--seed 1] [--coalesce 0]
        [--homework-digest] [--card]

A school of two classes (a 7th grade and a 3rd grade), its journal through five school days,
through the real pipeline (stream, consumer, planner, dispatcher, the file outbox for email
and SMS) on a simulated clock. It prints messages per guardian per school day, the delay from
journal event to message per category, and whether every event planned for a guardian is in
a message that guardian got; its last line is SPEC §8's summary line.

    week.py      the school and its week of journal events
    simulate.py  the week through the pipeline, event by event and due time by due time
    measure.py   what the database and what the guardians see (the outbox files, the Bot API
                 server's chats) say happened
    report.py    the printed figures
"""
