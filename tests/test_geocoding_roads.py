"""Hotline geocoding's first candidates, by road name: the road names table follows every
writer of addresses, and the answers through it equal those of the trigram index over
all addresses."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from django.db import connection, transaction

from incidents import geocoding
from layers.importing.core import import_file
from layers.models import Address, Area
from tests.cast import CELLS, centre


def names() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, addresses FROM layers_addressname")
        return dict(cursor.fetchall())


def counted() -> dict[str, int]:
    """The road names as the definition counts them from the addresses themselves."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT layers_address_road(search_text), count(*) FROM layers_address"
            " WHERE layers_address_road(search_text) IS NOT NULL GROUP BY 1"
        )
        return dict(cursor.fetchall())


def test_a_road_name_is_the_normal_form_up_to_its_first_number(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT layers_address_road(t) FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, i)"
            " ORDER BY i",
            [
                [
                    "越秀区 芳村大道 东 438 丰泽新城 7栋",
                    "天河区 华景路 12",
                    "华景新城",
                    "12 华景新城",
                ]
            ],
        )
        assert [row[0] for row in cursor.fetchall()] == [
            "越秀区 芳村大道 东",
            "天河区 华景路",
            None,  # no number: the index search finds it
            None,
        ]


def test_the_names_follow_inserts_updates_and_deletes(small_city: dict[str, Area]) -> None:
    point = centre(small_city[CELLS["own"]])
    a = Address.objects.create(code="A1", text="广州市天河区华景路123号", geom=point)
    Address.objects.create(code="A2", text="广州市天河区华景路125号华景新城", geom=point)
    Address.objects.create(code="A3", text="广州市天河区华景新城", geom=point)  # no number
    assert names() == {"天河区 华景路": 2}
    a.text = "广州市天河区同和路8号"
    a.save(update_fields=["text"])
    assert names() == {"天河区 华景路": 1, "天河区 同和路": 1}
    Address.objects.filter(code="A1").update(geom=point)  # the text untouched
    assert names() == {"天河区 华景路": 1, "天河区 同和路": 1}
    Address.objects.filter(code="A2").delete()
    assert names() == {"天河区 同和路": 1}
    Address.objects.all().delete()
    assert names() == {}


def write_addresses(path: Path, rows: list[tuple[str, str]], lonlat: tuple[float, float]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["code", "text", "road", "house_number", "building_name", "lon", "lat"])
        writer.writerows([code, text, "", "", "", *lonlat] for code, text in rows)
    return path


def test_the_names_follow_a_bulk_import(small_city: dict[str, Area], tmp_path: Path) -> None:
    point = centre(small_city[CELLS["own"]])
    lonlat = (point.x, point.y)
    first = [(f"B{n}", f"广州市天河区华景路{n}号") for n in range(1, 31)]
    first += [(f"C{n}", f"广州市天河区同和路{n}号华景新城{n % 5 + 1}栋") for n in range(1, 21)]
    import_file("addresses", write_addresses(tmp_path / "a.csv", first, lonlat))  # empty layer
    assert names() == counted() == {"天河区 华景路": 30, "天河区 同和路": 20}
    # Into a layer with rows: changed texts (an UPDATE) and new keys (an INSERT … SELECT).
    again = [(code, text.replace("同和路", "中山大道")) for code, text in first]
    again += [(f"D{n}", f"广州市越秀区解放北路{n}号") for n in range(1, 11)]
    import_file("addresses", write_addresses(tmp_path / "b.csv", again, lonlat))
    assert (
        names() == counted() == {"天河区 华景路": 30, "天河区 中山大道": 20, "越秀区 解放北路": 10}
    )


# Road names of a randomized register: similar names in several districts, so that the
# road-name candidates have near misses to tell apart.
ROADS = [
    "华景路",
    "华景中路",
    "同和路",
    "同和东路",
    "天河北路",
    "中山大道",
    "中山大道西",
    "员村南街",
]
DISTRICTS = ["天河区", "越秀区"]
ESTATES = ["华景新城", "丰泽新城", "鸿福花园"]


def randomized_register(rng: random.Random, small_city: dict[str, Area], n: int) -> list[str]:
    point = centre(small_city[CELLS["own"]])
    texts: set[str] = set()
    while len(texts) < n:
        text = f"广州市{rng.choice(DISTRICTS)}{rng.choice(ROADS)}{rng.randint(1, 300)}号"
        if rng.random() < 0.3:
            text += f"{rng.choice(ESTATES)}{rng.randint(1, 9)}栋"
        texts.add(text)
    for k, text in enumerate(sorted(texts)):
        Address(code=f"R{k:05d}", text=text, geom=point).save()
    return sorted(texts)


def callers_version(text: str, rng: random.Random) -> str:
    """The address as a caller may say it: no city, often no district, a road name with
    a character dropped or swapped for a homophone, a number in Chinese."""
    text = text.removeprefix("广州市")
    if rng.random() < 0.5:
        text = text[3:]
    slips = [
        ("华景", "化景"),
        ("同和", "同合"),
        ("中山大道", "中山大"),
        ("天河", "天和"),
        ("员村", "圆村"),
    ]
    old, new = rng.choice(slips)
    if rng.random() < 0.5:
        text = text.replace(old, new, 1)
    return text.replace("号", "号附近") if rng.random() < 0.2 else text


def test_the_road_name_path_answers_as_the_index_does(small_city: dict[str, Area]) -> None:
    rng = random.Random(18)
    texts = randomized_register(rng, small_city, 1500)
    districts = geocoding.district_words()
    among = Address.objects.all()
    by_road = 0
    for text in rng.sample(texts, 150):
        query = geocoding.parse_query(callers_version(text, rng), districts)
        answers = {}
        for road in (True, False):
            # Both passes, as geocode() runs them: the names one slip away from the
            # caller's road take addresses at the second pass's threshold in the first.
            rows = geocoding._candidates(
                query, geocoding.THRESHOLD, among, by_road=road
            ) or geocoding._candidates(query, geocoding.FALLBACK_THRESHOLD, among, by_road=road)
            ranked = sorted((geocoding._rescored(query, r, districts) for r in rows),
                            key=geocoding._rank_key)  # fmt: skip
            answers[road] = [row.candidate for row in ranked[:5]]
        # The best answer is the same. The ones after it may differ (in about two lists
        # of three here, a register of near-identical road names): the road path reads
        # the house numbers sharing the query's leading digits only, and the ROAD_NAMES
        # names most like the query's.
        assert answers[True][:1] == answers[False][:1], query
        by_road += bool(query.road)
    assert by_road >= 140  # the comparison ran through the road names, not the fallback


def test_the_road_name_query_reads_ranges_of_the_btree(small_city: dict[str, Area]) -> None:
    randomized_register(random.Random(3), small_city, 300)
    query = geocoding.parse_query("天河区华景路123号", geocoding.district_words())
    sql, params = geocoding._by_road(query, geocoding.THRESHOLD, Address.objects.all())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "address_search_road" in plan and "address_search_trgm" not in plan, plan


def _statements(text: str) -> tuple[list[str], list[str]]:
    """The codes geocode() gives for `text`, and the statements it ran."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        codes = [candidate.code for candidate in geocoding.geocode(text)]
    return codes, [query["sql"] for query in queries.captured_queries]


def _by_index_ran(statements: list[str]) -> bool:
    return any("<% search_text" in sql for sql in statements)


def test_a_road_name_that_finds_its_road_keeps_its_few_candidates(
    small_city: dict[str, Area],
) -> None:
    # Fewer than ROAD_MIN_ROWS addresses at the caller's number on the caller's road: the
    # road's candidates are the answer, no scan of every address follows.
    point = centre(small_city[CELLS["own"]])
    for k, text in enumerate(
        ["广州市天河区华景路12号", "广州市天河区华景路13号", "广州市越秀区同和路12号"]
    ):
        Address(code=f"F{k}", text=text, geom=point).save()
    codes, statements = _statements("天河区化景路12号")  # a homophone, three characters
    assert 0 < len(codes) < geocoding.ROAD_MIN_ROWS
    assert codes[0] == "F0"
    assert any("layers_addressname" in sql for sql in statements)
    assert not _by_index_ran(statements), statements


def test_a_short_road_name_with_few_candidates_searches_every_address(
    small_city: dict[str, Area],
) -> None:
    # 口巷 for 龙口巷 (a character dropped from a three-character name): the road names
    # found are others that hold 口巷 as a word; the index search finds the right one.
    point = centre(small_city[CELLS["own"]])
    for k, text in enumerate(["广州市越秀区龙口巷48号", "广州市天河区口巷48号"]):
        Address(code=f"S{k}", text=text, geom=point).save()
    codes, statements = _statements("口巷48号")
    assert geocoding._road_chars(geocoding.parse_query("口巷48号", geocoding.district_words())) == 2
    assert _by_index_ran(statements), statements
    assert "S0" in codes and "S1" in codes


def test_the_road_names_one_slip_away_are_like_patterns() -> None:
    query = geocoding.parse_query("天河区执信希街45号", frozenset({"天河区"}))
    patterns = geocoding.one_slip_patterns(query)
    # A character replaced (4) or one left out (5), after a district or alone.
    assert len(patterns) == 2 * (4 + 5)
    assert {"执信_街", "% 执信_街", "执_信希街", "% 执信希街_"} <= set(patterns)
    # Two characters: only one left out (one replaced would keep a single character).
    short = geocoding.parse_query("口巷48号", frozenset())
    assert geocoding.one_slip_patterns(short) == sorted(
        {form for name in ("_口巷", "口_巷", "口巷_") for form in (name, f"% {name}")}
    )
    # One character: one slip from it is any name.
    assert geocoding.one_slip_patterns(geocoding.parse_query("巷48号", frozenset())) == []
    # LIKE's own characters are matched as themselves.
    odd = geocoding.Query("x_% 1", frozenset(), "x_% 1", "x_%", "1", "x_%")
    assert "x\\_\\%_" in geocoding.one_slip_patterns(odd)


def test_a_road_name_one_slip_away_is_found_without_searching_every_address(
    small_city: dict[str, Area],
) -> None:
    # 执信希街 for 执信西街 (a homophone) with no district: the road names' trigrams find
    # no name like it, the names one slip away do; the right address is the answer and
    # no statement scans every address.
    point = centre(small_city[CELLS["own"]])
    for k, text in enumerate(
        [
            "广州市天河区执信西街45号",
            "广州市天河区执信西街46号",
            "广州市越秀区执信南路45号",
            "广州市越秀区信西街45号",
        ]
    ):
        Address(code=f"H{k}", text=text, geom=point).save()
    query = geocoding.parse_query("执信希街45号", geocoding.district_words())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)",
                       [str(geocoding.ROAD_THRESHOLD)])  # fmt: skip
        cursor.execute(*geocoding._by_road(query, geocoding.THRESHOLD, Address.objects.all()))
        assert cursor.fetchall() == []  # the trigram path alone would search every address
    codes, statements = _statements("执信希街45号")
    assert codes[0] == "H0"
    assert any("LIKE ANY" in sql for sql in statements), statements
    assert not _by_index_ran(statements), statements


def test_the_one_slip_query_reads_names_and_ranges_of_the_btree(
    small_city: dict[str, Area],
) -> None:
    randomized_register(random.Random(4), small_city, 300)
    query = geocoding.parse_query("天和北路123号", geocoding.district_words())
    sql, params = geocoding._by_road(
        query, geocoding.FALLBACK_THRESHOLD, Address.objects.all(), one_slip=True
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "address_search_road" in plan and "address_search_trgm" not in plan, plan
    assert "~~ ANY" in plan, plan


def test_a_one_digit_number_reads_that_number_of_each_road(small_city: dict[str, Area]) -> None:
    # 5 is read as 5 only, not 5, 50-59 and 500-599: those share one trigram with it.
    point = centre(small_city[CELLS["own"]])
    for k, number in enumerate(["5号", "5号华景新城2栋", "50号", "55号", "512号", "6号"]):
        Address(code=f"D{k}", text=f"广州市天河区华景路{number}", geom=point).save()
    query = geocoding.parse_query("天河区华景路5号", geocoding.district_words())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)",
                       [str(geocoding.ROAD_THRESHOLD)])  # fmt: skip
        cursor.execute(*geocoding._by_road(query, geocoding.THRESHOLD, Address.objects.all()))
        read = sorted(geocoding._row(values).code for values in cursor.fetchall())
    assert read == ["D0", "D1"]
    codes, statements = _statements("天河区华景路五号")
    assert codes[0] == "D0"
    assert not _by_index_ran(statements), statements
