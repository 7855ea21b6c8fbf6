"""The state of a simulated history (simulate_city): what lets a run be resumed and
repeated without adding anything twice. The cases themselves are the case loop's own
rows, written by its services; these tables only remember the simulator's plans."""

from __future__ import annotations

from django.db import models


class Run(models.Model):
    """One seed's history of a city: from `start`, hour by hour; `hours_done` hours are
    simulated and committed (each hour is one transaction)."""

    seed = models.BigIntegerField(unique=True)
    scale = models.FloatField()
    start = models.DateTimeField()
    hours_done = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"seed {self.seed} from {self.start:%Y-%m-%d %H:%M} ({self.hours_done} h)"


class Plan(models.Model):
    """One simulated incident and its next step: `action` is due at `due_at` (empty when
    the incident needs nothing more from the simulator). `steps` counts the steps taken:
    each decision draws from a random stream named by the run's seed, the incident's
    number and the step, so that a resumed run decides exactly as an unbroken one."""

    run = models.ForeignKey(Run, models.CASCADE, related_name="plans")
    number = models.BigIntegerField()  # hour × 10,000 + arrival within the hour
    case = models.ForeignKey("incidents.Case", models.CASCADE, related_name="+")
    action = models.CharField(max_length=20, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    steps = models.PositiveSmallIntegerField(default=0)
    # Steps the case loop refused (a conflict the simulator did not expect), for the
    # command's summary; a correct simulator leaves it at 0.
    refused = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="simulation_plan_number")
        ]
        indexes = [
            models.Index(
                fields=["run", "due_at", "number"],
                name="simulation_plan_due",
                condition=models.Q(due_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.number}: {self.action or '-'}"
