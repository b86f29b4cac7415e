"""A region's school day through the real service: how fast, and is anything lost.

    .venv/bin/python -m bench.region [--database sqlite|postgres] [--workers 1] [--runs 3]
        [--consumer thread|process]
        [--schools 20 --classes 600 --pupils 15000 --guardians 22000] [--events 6000]
        [--post-events 2000] [--rate 200 --latency-seconds 10] [--marks-events 4000]
        [--telegram-events 3000] [--rate-limits] [--no-day-figures]

What runs: `notifier serve` (the API) and `--workers` × `arq worker.WorkerSettings` (stream
consumer + delivery; with `--consumer process` the consumer in a child process, whose CPU and
memory count as the worker's), each a process of its own as in production; a local Telegram
Bot API server, MAX Bot API server, SMTP server and SMS gateway, each in a process of its own
(bench/sinks.py); Redis (AOF, fsync always) and SQLite or PostgreSQL. The roster is a
generated region (sizes as arguments) with a mix of channels (of the guardians: Telegram
45 %, MAX 15 %, email 25 %, SMS 10 %, none 5 %); the events are a generated school day of
its journal (absences in the morning, marks in bursts after each lesson, corrections,
homework after lessons, timetable changes), in time order. Every message carries its event's
number (in the subject of the lesson), so what the channel servers received can be matched
with the outbox.

Each run, on an emptied outbox:
  1. throughput: the first `--events` events of the day XADDed as fast as possible;
     events/s stored and planned, messages/s delivered (all channels and per channel:
     Telegram, MAX, email, SMS);
  2. the API: `--post-events` more through `POST /v1/events` (batches of 100, 4 clients);
  3. latency: events XADDed at `--rate` per second for `--latency-seconds`; end-to-end
     latency from XADD to the channel server (p50/p95/p99), coalescing off;
  4. marks alone: the next `--marks-events` marks of the day XADDed as fast as possible;
     events/s stored and planned, messages/s (issue 20's target for marks);
  5. Telegram alone: `--telegram-events` marks about pupils whose guardians with consent all
     read Telegram (the day's next, then made up beyond the day if it has too few), XADDed
     as fast as possible; Telegram's messages/s (in the mix, where Telegram has about half
     the messages, the whole service's rate bounds it), as a ratio to the bare Bot API
     client timed again just before the phase;
(each phase replays a part of the day no earlier phase did; 0 skips phase 4 or 5), then
reconciles, per channel and recipient (a MAX message must reach the guardian's MAX user,
once): lost (planned for a reachable guardian and not received) and duplicated (received more
often than planned) messages, which must both be 0. Before the runs it measures the raw
ceilings on the same machine: XADD and XREADGROUP from Python, and a bare client against each
channel server; each of our figures is printed as a ratio to its ceiling.
Rate limits are off unless --rate-limits (then the defaults: 25/s per bot, Telegram's and
MAX's, one message a second (MAX: two) to one chat, 50/s SMTP, ...).
Quiet hours are off (00:00-00:00) so that it measures the same at any hour.

The package, along the run: generate.py (the region and its school day), database.py (the
region loaded, the whole day planned, PostgreSQL's statistics), processes.py (the service,
the channel servers, CPU and memory), ceilings.py (bare clients), phases.py (one run and its
five phases), reconcile.py (the outbox against the servers), report.py (the medians),
benchmark.py (the whole benchmark), __main__.py (the command line).
"""
