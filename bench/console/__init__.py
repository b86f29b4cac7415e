"""The web console's pages for one school of 1,500 pupils: how long each takes (issue 15: p95
under 200 ms).

    .venv/bin/python -m bench.console [--database sqlite|postgres] [--pupils 1500 --classes 50]
        [--weeks 2] [--requests 50 --warmup 5] [--seed 1]

What runs: `notifier serve` (the API, which serves /console) in a process of its own as in
production, on SQLite or PostgreSQL, with an embedded Redis and a local Bot API server
(bench/sinks.py; it answers the getMe the invitation slips' deep links need).

The school, built before the API starts: bench.region's generated roster with one school
(~1.5 guardians per pupil; its mix of Telegram, email, SMS and none, and its consent share),
a class teacher with an email for each class and the school's admin (the roster service of
PUT /v1/staff and PUT /v1/classes); the journal of every school day from `--weeks` weeks
before this one up to yesterday (bench.region's school day, moved to each date), stored and
planned by delivery.intake.store_and_plan in consumer-sized batches at the time they came in;
an announcement by every class teacher to their class (the first also one to five pupils) on
the Sunday before, sent by the worker's dispatcher on that Sunday's clock (email and SMS to
the file outbox, Telegram to the local server), then one scheduled for next week and one
cancelled. No worker runs, so the journal's outbox rows stay pending: the tables are the
size a school's have, and the report page shows sent, scheduled, cancelled, no-consent and
no-channel lines.

Sessions are made as spending an emailed link makes them (notifier.signin: issue_link, then
redeem_link) and sent as the cookie. One keep-alive client per person asks for each page
`--requests` times, one request at a time, after `--warmup` requests: the first class's
teacher's home, class reach, compose, the htmx preview (with the CSRF token), announcements,
a report and the class's printable summary (the default period: the last school week, the
families on paper); the admin's home (every class), the class page and the staff list; then
the downloads apart: the summary PDF and the invitation slips (a POST, fresh codes each time).
Printed per page: median, p95 and max wall ms, and the API process's CPU ms per request (from
/proc), then one line:

    console pages: p95 max=<n> ms (target 200 ms) over <k> pages; pdf p95: summary=<n> ms
        invitations=<n> ms

The figures are reported, not asserted. The package: school.py (the school), pages.py (the
requests and their timing), benchmark.py (the run), __main__.py (the command line).
"""
