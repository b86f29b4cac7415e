"""Fault tests on the real processes and servers: the worker killed with SIGKILL again and again
during a replay, Redis crashed and restarted (AOF), Redis away for longer than a command's
retries (the worker waits it out), the SMTP relay down for a while, PostgreSQL restarted. Nothing is mocked: the worker is `notifier worker` (arq) in a process of its own,
the API runs in-process (httpx ASGI) or as `notifier serve`, and the servers are real.

Each test prints its figures (run pytest with `-s` to see them) and logs them on the logger
`tests.faults`. `NOTIFIER_FAULT_SEED=<n>` replays the kill test's random choices.

One module per fault (test_worker_killed.py, test_redis_crash.py, test_redis_outage.py,
test_smtp_outage.py, test_postgres_restart.py); what they share: harness.py (the child processes, waiting,
reporting), journal.py (the roster and the events, the API as a client sees it),
outbox.py (what was planned, recorded and received), conftest.py (the `procs` fixture).
"""
