"""The delivery worker: the arq jobs and crons (jobs.py), what a worker process holds while it
runs (lifecycle.py: arq's on_startup and on_shutdown), riding out Redis outages (resilience.py),
and the ways it runs (runner.py). The top-level worker.py is only the `arq worker.WorkerSettings`
that arq's command line reads; `notifier worker` and `notifier up` build theirs here."""

from notifier.worker.jobs import DELIVER_JOB
from notifier.worker.runner import arq_settings, in_process_worker, process_worker, worker_options

__all__ = ["DELIVER_JOB", "arq_settings", "in_process_worker", "process_worker", "worker_options"]
