"""What a city's day looks like to the simulator: how many incidents arrive when, of which
categories, through which channel. Figures, not code paths: docs/simulation.md explains
where they come from.

The category mix is the catalogue's: the share of each class (major code) below, spread
over its categories with weights falling by position (the catalogue lists the common
ones first, 1/(rank+1)). Classes a city's catalogue adds get OTHER_CLASS_SHARE each.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

from layers.models import Category, CategoryKind

# Incidents a day at scale 1.0: the grid-management figure of the seeds (a city of ~20M).
PER_DAY_AT_SCALE_1 = 2000.0

# Shares of the classes (kind, major code); they need not add up to 1.
CLASS_SHARES: dict[tuple[str, str], float] = {
    (CategoryKind.EVENT, "01"): 0.26,  # 市容环境: exposed rubbish, dirty roads …
    (CategoryKind.EVENT, "02"): 0.12,  # 宣传广告: flyers, graffiti
    (CategoryKind.EVENT, "03"): 0.08,  # 施工管理
    (CategoryKind.EVENT, "04"): 0.02,  # 突发事件
    (CategoryKind.EVENT, "05"): 0.24,  # 街面秩序: street vending, parking
    (CategoryKind.EVENT, "99"): 0.02,
    (CategoryKind.COMPONENT, "01"): 0.10,  # 公用设施: manhole covers, street lights
    (CategoryKind.COMPONENT, "02"): 0.06,  # 道路交通
    (CategoryKind.COMPONENT, "03"): 0.05,  # 市容环境 components: bins, toilets
    (CategoryKind.COMPONENT, "04"): 0.03,  # 园林绿化
    (CategoryKind.COMPONENT, "05"): 0.01,
    (CategoryKind.COMPONENT, "06"): 0.005,
    (CategoryKind.COMPONENT, "99"): 0.005,
}
OTHER_CLASS_SHARE = 0.005

# Who reports: inspectors on patrol, or callers through 12345.
HOTLINE_SHARE = 0.35
# 12345 tickets by type (dispatch.hotline): 咨询 is answered on the phone (直接办结).
TICKET_TYPES = {
    "complaint": 0.38,
    "help": 0.25,
    "consult": 0.15,
    "tipoff": 0.12,
    "suggestion": 0.05,
    "other": 0.05,
}
CHANNELS = {"phone": 0.78, "wechat": 0.12, "web": 0.06, "sms": 0.04}

# Arrivals per hour of the local day (relative), inspectors on patrol and 12345 callers.
INSPECTOR_HOURS = [0, 0, 0, 0, 0, 0, 0.2, 0.6, 1.2, 1.6, 1.6, 1.2, 0.5, 0.6,
                   1.3, 1.6, 1.5, 1.1, 0.5, 0.2, 0.1, 0, 0, 0]  # fmt: skip
HOTLINE_HOURS = [0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 0.7, 1.2, 1.5, 1.5, 1.3, 1.0, 1.0,
                 1.3, 1.4, 1.3, 1.2, 1.0, 1.0, 0.9, 0.7, 0.4, 0.2]  # fmt: skip
# A rest day (weekend or holiday of the working calendar) against a working day.
REST_DAY = {"inspector": 0.45, "hotline": 0.85}

# Chronic hot spots: one cell in HOT_CELL_EVERY is one; together they draw HOT_SHARE of
# the incidents, and half of a hot spot's incidents are its own chronic problem (a market
# that spills onto the road: 占道经营 again and again).
HOT_CELL_EVERY = 150
MIN_HOT_CELLS = 4
HOT_SHARE = 0.3
HOT_CATEGORY_SHARE = 0.5
# The streets where the demo inspectors patrol draw this share besides (so that the demo
# users' own boards are busy in a city of thousands of cells); 0 for no such street.
FOCUS_SHARE = 0.1


@dataclass(frozen=True)
class Mix:
    categories: list[int]  # leaf category ids in catalogue order
    cumulative: list[float]  # running sums of the weights, for rng.choices
    share: dict[int, float]  # the expected share of each (weights normalised)

    def draw(self, rng: random.Random) -> int:
        return rng.choices(self.categories, cum_weights=self.cumulative)[0]


def category_mix() -> Mix:
    """The mix of the catalogue in the database: active leaf categories with a time limit
    (the ones a unit can be held to), by class share, then by position in the class."""
    leaves = (
        Category.objects.filter(active=True, time_limit__isnull=False)
        .exclude(minor_code="")
        .order_by("kind", "major_code", "minor_code", "pk")
    )
    by_class: dict[tuple[str, str], list[int]] = {}
    for category in leaves:
        by_class.setdefault((category.kind, category.major_code), []).append(category.pk)
    if not by_class:
        raise LookupError("the catalogue has no active categories with a time limit")
    ids: list[int] = []
    weights: list[float] = []
    for key, members in by_class.items():
        share = CLASS_SHARES.get(key, OTHER_CLASS_SHARE)
        ranks = [1 / (rank + 1) for rank in range(len(members))]
        ids += members
        weights += [share * r / sum(ranks) for r in ranks]
    total = sum(weights)
    return Mix(
        ids,
        list(itertools.accumulate(weights)),
        {pk: w / total for pk, w in zip(ids, weights, strict=True)},
    )


def hourly_rate(scale: float, hour: int, rest_day: bool, who: str) -> float:
    """Expected arrivals of `who` in one local hour of the day."""
    hours = INSPECTOR_HOURS if who == "inspector" else HOTLINE_HOURS
    share = HOTLINE_SHARE if who == "hotline" else 1 - HOTLINE_SHARE
    # A week has 5 working and 2 rest days: the day's total averages PER_DAY × scale.
    week = 5 + 2 * REST_DAY[who]
    day = PER_DAY_AT_SCALE_1 * scale * share * 7 / week * (REST_DAY[who] if rest_day else 1)
    return day * hours[hour] / sum(hours)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; a normal approximation for large means)."""
    if mean <= 0:
        return 0
    if mean > 40:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def pick(rng: random.Random, table: dict[str, float]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]
