"""Everything that leaves the system, in one worker (scripts/run.sh starts it):

    manage.py run_delivery_worker [--once] [--interval 5]

Each pass: the inbox and its e-mail and SMS messages (notifications' run_notify_worker),
then the webhooks: new case events queued per webhook they reach, due deliveries posted
(exchange.webhooks). It outlives lost database and Redis connections as run_notify_worker
does, and beats as `delivery` in the heartbeat table."""

from __future__ import annotations

from exchange import webhooks
from notifications.management.commands.run_notify_worker import Command as NotifyCommand


class Command(NotifyCommand):
    help = "Deliver notifications (inbox, e-mail, SMS) and webhooks."
    worker = label = "delivery"

    def work(self) -> None:
        super().work()
        queued = webhooks.collect()
        if queued:
            self.stdout.write(f"webhook events: {queued}")
        for delivery_id, state in webhooks.deliver_due():
            self.stdout.write(f"webhook delivery {delivery_id}: {state}")
