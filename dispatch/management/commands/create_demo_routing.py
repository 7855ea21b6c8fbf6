"""Create the demo city's routing rules, unless some exist (they are data: edit them in
the admin at 指挥调度 › 派遣规则).

    manage.py create_demo_routing

The rules: street-order events (05: vending, parking…) reported by inspectors are filed
and dispatched to the street office at once (自动立案派遣); emergencies (04) go to the
district — at night to its command centre on duty; construction matters (03) and every
component class (部件) go to the district department of the category's unit type.
Everything else — city appearance, advertising, street order from the hotline — has no
rule and falls to the street office of its place (属地兜底), which escalates what is
beyond it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dispatch.models import RoutingRule, TargetTier
from incidents.models import Channel
from layers.models import Category, CategoryKind


class Command(BaseCommand):
    help = "Create the demo routing rules (skipped when any rule exists)."

    def handle(self, *args: Any, **options: Any) -> None:
        if RoutingRule.objects.exists():
            self.stdout.write("routing rules exist: left alone")
            return
        majors = {(c.kind, c.major_code): c for c in Category.objects.filter(minor_code="")}
        if not majors:
            raise CommandError("The catalogue is empty: run `manage.py loaddata catalogue`.")

        def major(kind: str, code: str) -> Category:
            return majors[(kind, code)]

        rules = [
            RoutingRule(order=5, name="网格员上报的街面秩序事件自动派遣属地街道",
                        category=major(CategoryKind.EVENT, "05"), channel=Channel.APP,
                        tier=TargetTier.STREET, owner_only=True, auto_dispatch=True),
            RoutingRule(order=10, name="夜间突发事件由区指挥中心值班处置",
                        category=major(CategoryKind.EVENT, "04"), tier=TargetTier.DISTRICT,
                        time_from=dt.time(18), time_to=dt.time(9), owner_only=True),
            RoutingRule(order=20, name="突发事件派区级专业部门",
                        category=major(CategoryKind.EVENT, "04"), tier=TargetTier.DISTRICT),
            RoutingRule(order=30, name="施工管理派区级专业部门",
                        category=major(CategoryKind.EVENT, "03"), tier=TargetTier.DISTRICT),
        ]  # fmt: skip
        components = sorted(k[1] for k in majors if k[0] == CategoryKind.COMPONENT)
        rules += [
            RoutingRule(order=40 + n, name=f"部件（{majors[(CategoryKind.COMPONENT, code)].name}）"
                        "派区级专业部门", category=majors[(CategoryKind.COMPONENT, code)],
                        tier=TargetTier.DISTRICT)
            for n, code in enumerate(components)
        ]  # fmt: skip
        with transaction.atomic():
            RoutingRule.objects.bulk_create(rules)
        self.stdout.write(f"{len(rules)} routing rules created")
