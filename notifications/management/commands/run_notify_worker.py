"""Tell people what awaits them and deliver the messages (docs/notifications.md).

    manage.py run_notify_worker [--once] [--interval 5]

Each pass turns the new case events into inbox items and messages (notifications.collect),
then sends the due messages by e-mail or SMS with retries and back-off
(notifications.delivery). Safe to run as several copies. It outlives its faults as every
worker does (dispatch/worker.py); a Redis outage only delays the live inbox notices (the
inbox is read from the database)."""

from __future__ import annotations

import logging

from dispatch.worker import WorkerCommand
from notifications.collect import collect
from notifications.delivery import deliver_due


class Command(WorkerCommand):
    help = "Turn case events into inbox items and messages, and deliver the messages."
    worker = label = "notify"
    interval = 5.0
    log = logging.getLogger("notifications")

    def work(self) -> None:
        """One pass's work (exchange's run_delivery_worker adds the webhooks)."""
        handled = collect()
        if handled:
            self.stdout.write(f"events: {handled}")
        for message_id, state in deliver_due():
            self.stdout.write(f"message {message_id}: {state}")
