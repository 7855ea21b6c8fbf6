"""A small rectangular city for tests: every border lies on round coordinates.

Two districts side by side (天河 440106 west, 越秀 440104 east); each has 2 streets,
each street 2 communities, each community 2 x 2 cells. Cell edges are 0.01 degrees.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.gis.geos import MultiPolygon, Polygon

from layers.models import Area, Tier
from layers.placement import deferred_pieces

ORIGIN_LON = 113.30
ORIGIN_LAT = 23.10
STEP = 0.01  # one cell
VALID_FROM = dt.date(2024, 1, 1)


def _box(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    ring = ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))
    return MultiPolygon(Polygon(ring, srid=4326), srid=4326)


def _cell_box(col0: int, row0: int, cols: int, rows: int) -> MultiPolygon:
    x0 = round(ORIGIN_LON + col0 * STEP, 6)
    y0 = round(ORIGIN_LAT + row0 * STEP, 6)
    return _box(x0, y0, round(x0 + cols * STEP, 6), round(y0 + rows * STEP, 6))


def build_small_city() -> dict[str, Area]:
    """Create the city in the database; returns every area by code."""
    areas: dict[str, Area] = {}

    def add(tier: Tier, code: str, name: str, parent: Area | None, geom: MultiPolygon) -> Area:
        area = Area.objects.create(
            tier=tier, code=code, name=name, parent=parent, geom=geom, valid_from=VALID_FROM
        )
        areas[code] = area
        return area

    with deferred_pieces():  # one rebuild at the end, not one per area
        # The city is 8 cells wide (two districts of 4 columns) and 4 cells high.
        city = add(Tier.CITY, "440100", "广州市", None, _cell_box(0, 0, 8, 4))
        for d, (dcode, dname) in enumerate([("440106", "天河区"), ("440104", "越秀区")]):
            district = add(Tier.DISTRICT, dcode, dname, city, _cell_box(4 * d, 0, 4, 4))
            for s in range(2):  # streets stack south to north, 4 x 2 cells each
                street_code = f"{dcode}{s + 1:03d}"
                street = add(
                    Tier.STREET,
                    street_code,
                    f"{dname}第{s + 1}街道",
                    district,
                    _cell_box(4 * d, 2 * s, 4, 2),
                )
                for c in range(2):  # communities side by side, 2 x 2 cells each
                    community_code = f"{street_code}{c + 1:03d}"
                    col0, row0 = 4 * d + 2 * c, 2 * s
                    community = add(
                        Tier.COMMUNITY,
                        community_code,
                        f"{street.name}第{c + 1}社区",
                        street,
                        _cell_box(col0, row0, 2, 2),
                    )
                    for k in range(4):
                        add(
                            Tier.CELL,
                            f"{community_code}{k + 1:03d}",
                            f"{community.name}第{k + 1}网格",
                            community,
                            _cell_box(col0 + k % 2, row0 + k // 2, 1, 1),
                        )
    return areas
