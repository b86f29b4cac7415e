"""`arq worker.WorkerSettings` (SPEC §1): the delivery jobs, the stream consumer and the crons,
run by arq's command line with arq's own Worker. Everything it names lives in notifier/worker/.
`notifier worker` runs the same with a Worker that also waits out a Redis outage of any length
in its loop (see notifier/worker/resilience.py), which arq's command line cannot be told to use:
run that one where Redis may restart or go away under the worker."""

from notifier import event_loop
from notifier.config import load_settings
from notifier.worker import arq_settings

# arq's command line imports this module only to read WorkerSettings, and nothing else imports
# it, so this import is where the worker process starts: its one reading of the settings, and
# its loop (arq's Worker, made next, takes the current one).
WorkerSettings = arq_settings(load_settings())
event_loop.set_event_loop()
