"""Chase deadlines: warn, mark overdue and escalate (催办 → 督办).

    manage.py run_sla_worker [--once] [--interval 10]

Safe to run as several copies at once: each due case is claimed by one of them. It
outlives its faults as every worker does (dispatch/worker.py); a case whose step fails
is set aside by dispatch.sla and the others carry on. Live events go out after commit
from a background thread that logs and drops what Redis cannot take (incidents.outbox):
a Redis outage never stops a pass, and clients catch up from the outbox.
"""

from __future__ import annotations

import logging

from analysis.daily import fold
from dispatch.evaluation import fold_rollups
from dispatch.sla import run_due
from dispatch.worker import WorkerCommand


class Command(WorkerCommand):
    help = "Warn about, mark overdue and escalate cases whose deadline timers are due."
    worker = "sla"
    label = "SLA"
    log = logging.getLogger("dispatch.sla")

    def work(self) -> None:
        for case_id, what in run_due():
            self.stdout.write(f"case {case_id}: {what}")
        # The rollups' logs moved into the rollups, so that they stay short between reads.
        fold_rollups()
        fold()
