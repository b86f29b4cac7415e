"""SMS/s per provider, beside a bare client's ceiling measured in the same run:
`.venv/bin/python -m bench.sms [--messages 5000] [--runs 3] [--providers http,smsru,smsc,smpp]`.

For each provider its local server (tests/servers: the generic JSON gateway, SMS.ru's and
smsc.ru's HTTP APIs, an SMSC speaking SMPP 3.4 with a delivery receipt for every part) runs in
a process of its own (bench/sinks.py), so its CPU is not ours. Each run sends `--messages`
SMS, half a Cyrillic text of 2 segments and half a Latin one of 1, to distinct numbers:

  ours      through SmsChannel.send and the provider's gateway, as the worker does: at
            delivery_concurrency sends at once (20), rate limits off
            (NOTIFIER_SMS_RATE_PER_SECOND=0; `--rate` sets one), the RateLimiter over a real
            Redis (the embedded one, or `--redis-url` / REDIS_URL);
  ceiling   the same messages by a bare client: aiohttp posting the provider's exact request at
            the same concurrency; for SMPP a loop of submit_sm (aiosmpplib's PDUs, the gateway's
            split of the text into parts) over one bind, as many awaiting their resp as
            NOTIFIER_SMPP_WINDOW allows, answering the receipts with deliver_sm_resp.

A phase ends when every send has returned and, for SMPP, every part's receipt has been handed on
(ours) or answered (bare). Each run prints its figures, ours and the ceiling in alternating
order; then per provider the medians over the runs:

  sms/<provider>: ours=<n>/s ceiling=<n>/s ratio=<ours/ceiling> cpu=<ms>/sms (ceiling <ms>/sms)

where cpu is the benchmark process's own CPU (resource.getrusage: user + system) per SMS while
the phase ran: the servers and Redis are other processes. Every server must have received
exactly the messages sent, or the run fails. `--profile` adds, per provider, one more pass of
ours under cProfile and prints where its CPU went.
"""
