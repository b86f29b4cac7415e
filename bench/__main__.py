"""The benchmark, one command: `python3 bootstrap.py bench` (or `.venv/bin/python -m bench`).

Runs each part in its own process and prints its figures:
  region        a region's school day through the real processes and local channel servers:
                events/s, messages/s per channel, latency, memory, raw ceilings, reconciliation
                (medians of 3; `python -m bench.region --help` for sizes, --database, --workers)
  sms           SMS/s per provider (http, smsru, smsc, smpp) through SmsChannel beside a bare
                client's ceiling from the same run, CPU per SMS (medians of 3)
  pipeline      journal events through the stream into the outbox, then SMTP (medians of 3)
  school_day    messages per guardian per school day in a typical week (default settings)
  roster_import a 5,000-row roster CSV (medians of 3)
  pdf           the summary PDF: the fonts' parse, one guardian's page, a class of 30 pages
                (medians of 15)
Run on its own (not part of this command):
  outage        `python -m bench.outage [--down 300]`: Redis away 5 minutes under a working
                worker; the worker lives, nothing lost or sent twice (about 6 minutes)
"""

from __future__ import annotations

import subprocess
import sys

PARTS = [
    ["bench.region"],
    ["bench.sms"],
    ["bench.pipeline", "--events", "2000", "--runs", "3"],
    ["bench.school_day"],
    ["bench.roster_import", "--rows", "5000", "--runs", "3"],
    ["bench.pdf"],
]


def main() -> int:
    status = 0
    for module, *args in PARTS:
        print(f"== {module} {' '.join(args)}", flush=True)
        result = subprocess.run([sys.executable, "-m", module, *args], check=False)
        status = status or result.returncode
    return status


if __name__ == "__main__":
    raise SystemExit(main())
