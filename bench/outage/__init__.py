"""A Redis outage under a working worker, at default settings: is anything lost, does the
worker live through it, how soon does delivery resume.

    .venv/bin/python -m bench.outage [--down 300] [--seed 20] [--keep]

What runs: `notifier serve` and `notifier worker`, each a process of its own as in production,
on SQLite, with a Redis of its own (append-only file, fsync always) on a fixed port and a
local SMTP server. Settings are the defaults (the worker's Redis commands retry for
NOTIFIER_REDIS_RETRY_SECONDS, 5 s; the SMTP relay's rate limit, 50/s, is kept in Redis) except
coalescing, which is off so that the time to the last delivery measures the recovery and not
the 60 s coalescing window.

The scenario (bench/outage/scenario.py, which tests/faults/test_redis_outage.py runs with short
settings): a school of 100 pupils and 125 guardians; 200 marks posted and delivered; 400 more
posted and Redis killed (SIGKILL) while they are being sent, 100 more posted just before;
Redis away for `--down` seconds (300 by default; `--down 20` for a quick look) while the
journal keeps trying to post; Redis started again on the same port from its files; 100 more
marks. Printed: the outage's seconds, whether the worker lived through it, events accepted,
messages delivered, lost and duplicated (reconciled against what the SMTP server received),
and the seconds from Redis answering again to the last message received. A run takes the
outage plus about a minute.
"""
