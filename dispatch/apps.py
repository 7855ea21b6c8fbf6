from importlib import import_module
from typing import Any

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = _("指挥调度")

    def ready(self) -> None:
        post_migrate.connect(seed_empty_tables, sender=self)
        from dispatch.routing import rules_follow_redraw
        from layers.signals import areas_succeeded

        # Routing rules scoped to a redrawn area follow its successor.
        areas_succeeded.connect(rules_follow_redraw, dispatch_uid="dispatch.rules_follow")


def seed_empty_tables(
    sender: AppConfig, using: str, apps: Apps = global_apps, **kwargs: Any
) -> None:
    """After `migrate` or `flush`: the working calendar and the 12345 limits, when their
    tables are empty, get the rows their migrations seed. A flush empties them (the test
    runner flushes after every transactional test) and `post_migrate` follows it, as it
    does for Django's content types and permissions. Tables that hold rows, edited or not,
    are left alone."""
    try:
        calendar = apps.get_model("dispatch", "CalendarDay")
        kinds = apps.get_model("dispatch", "TicketKind")
    except LookupError:  # migrated back to before these tables
        return
    if not calendar.objects.using(using).exists():
        seed = import_module("dispatch.migrations.0002_china_public_holidays")
        calendar.objects.using(using).bulk_create(
            calendar(date=day, is_workday=workday, name=name)
            for day, workday, name in seed.exceptions()
        )
    if not kinds.objects.using(using).exists():
        from dispatch import hotline

        hotline.ensure_defaults()
