"""Hotline geocoding: the normal form of addresses, ranked fuzzy matching over the trigram
index, and GET /api/geocode/ with its scope, datum and errors."""

from __future__ import annotations

import doctest

import pyarrow as pa
import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from rest_framework.test import APIClient

from incidents import geocoding
from incidents.geocoding import GeocodeError, geocode
from layers import addresses
from layers.addresses import normalise_address, normalise_addresses
from layers.datum import Datum, point_to_storage
from layers.models import Address, Area
from tests.cast import CELLS, centre

# (text, cell key) of a few standard addresses of the small test city (天河 and 越秀).
REGISTER = [
    ("广州市天河区华景路123号华景新城5栋", "own"),
    ("广州市天河区华景路123号华景新城6栋", "own"),
    ("广州市天河区华景路125号", "own"),
    ("广州市天河区同和路8号", "street"),
    ("广州市天河区中山大道西108号之2", "other_street"),
    ("广州市越秀区同和路8号", "other_district"),  # the same road name in another district
    ("广州市越秀区解放北路300号", "other_district"),
]


@pytest.fixture
def register(small_city: dict[str, Area]) -> dict[str, Address]:
    return {
        text: Address.objects.create(code=f"A{n}", text=text, geom=centre(small_city[CELLS[key]]))
        for n, (text, key) in enumerate(REGISTER)
    }


def top(query: str) -> str:
    return geocode(query, limit=5)[0].text


@pytest.mark.parametrize("module", [addresses, geocoding])
def test_its_documented_examples_hold(module: object) -> None:
    failed, attempted = doctest.testmod(module)  # type: ignore[arg-type]
    assert attempted > 0 and failed == 0


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("广州市天河区天河路123号华景新城5栋", "天河区 天河路 123 华景新城 5栋"),
        ("天河路一百二十三号华景新城五座", "天河路 123 华景新城 5栋"),
        ("天河路１２３號，華景新城5#樓附近", "天河路 123 华景新城 5栋"),
        ("天河路 123-1号", "天河路 123 之 1"),
        ("三元里大道五号", "三元里大道 5"),  # a numeral in a name stays a name
        ("番禺区市桥路3号", "番禺区 市 桥路 3"),  # a road starting with 市 keeps it
    ],
)
def test_it_normalises_addresses(text: str, normal: str) -> None:
    assert normalise_address(text) == normal
    # The vectorized form (bulk import) gives the same words as the one for queries.
    assert normalise_addresses(pa.array([text, "广州市天河区天河路1号"])).to_pylist() == [
        normal,
        "天河区 天河路 1",
    ]


def test_it_keeps_the_normal_form_on_save(register: dict[str, Address]) -> None:
    address = register["广州市天河区华景路125号"]
    assert address.search_text == "天河区 华景路 125"
    address.text = "广州市天河区华景路127号"
    address.save(update_fields=["text"])
    address.refresh_from_db()
    assert address.search_text == "天河区 华景路 127"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("天河区华景路123号华景新城5栋", "广州市天河区华景路123号华景新城5栋"),
        ("华景路一百二十三号华景新城五座", "广州市天河区华景路123号华景新城5栋"),  # numerals
        ("华井路123号华景新城6号楼", "广州市天河区华景路123号华景新城6栋"),  # homophone
        ("天河区华路125号", "广州市天河区华景路125号"),  # a dropped character
        ("中山大道西108-2号附近", "广州市天河区中山大道西108号之2"),
        ("解放北路３００号", "广州市越秀区解放北路300号"),  # full width, no district
    ],
)
def test_it_finds_misspelled_and_partial_addresses(
    register: dict[str, Address], query: str, expected: str
) -> None:
    assert top(query) == expected


def test_the_district_the_caller_names_decides_between_equal_roads(
    register: dict[str, Address],
) -> None:
    assert top("越秀区同和路8号") == "广州市越秀区同和路8号"
    assert top("天河区同和路8号") == "广州市天河区同和路8号"
    # Even with one character of the road wrong, the named district comes first.
    assert top("越秀区同合路8号") == "广州市越秀区同和路8号"


def test_it_ranks_candidates_with_their_placement(register: dict[str, Address]) -> None:
    found = geocode("华景路123号华景新城", limit=3)
    assert [c.text for c in found[:2]] == [
        "广州市天河区华景路123号华景新城5栋",
        "广州市天河区华景路123号华景新城6栋",
    ]
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    assert 0 < found[-1].score <= found[0].score <= 1
    assert (found[0].cell_code, found[0].district_code) == (CELLS["own"], "440106")
    assert geocode("火星路1号") == []


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("路", geocoding.QueryTooShort),
        ("天河区 123号", geocoding.QueryWithoutName),
        ("华" * 201, geocoding.QueryTooLong),
    ],
)
def test_it_refuses_queries_it_cannot_match(
    register: dict[str, Address], query: str, error: type[GeocodeError]
) -> None:
    with pytest.raises(error):
        geocode(query)


def test_its_candidate_query_uses_the_trigram_index(register: dict[str, Address]) -> None:
    # The test table is tiny, so sequential scans are switched off to ask the planner
    # whether the index can serve the geocoder's condition at all.
    query = geocoding.parse_query("华景路123号", geocoding.district_words())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM layers_address WHERE %s <%% search_text", [query.core]
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "address_search_trgm" in plan


def get(user: User, **params: str) -> tuple[int, dict]:
    client = APIClient()
    client.force_authenticate(user)
    response = client.get("/api/geocode/", params)
    return response.status_code, response.json()


def test_the_api_returns_candidates_in_the_asked_datum(
    cast: dict[str, User], register: dict[str, Address]
) -> None:
    status, body = get(cast["hotline"], q="越秀区解放北路300号", limit="1", datum="gcj02")
    assert status == 200, body
    (candidate,) = body["candidates"]
    address = register["广州市越秀区解放北路300号"]
    assert candidate["id"] == address.pk
    assert candidate["district_code"] == "440104"
    # Back from GCJ-02 the point is the stored one (to well under a metre).
    lon, lat = point_to_storage(candidate["lon"], candidate["lat"], Datum.GCJ02)
    assert abs(lon - address.geom.x) < 1e-5 and abs(lat - address.geom.y) < 1e-5
    assert abs(candidate["lon"] - address.geom.x) > 1e-3  # and GCJ-02 is really offset


def test_the_api_searches_only_what_the_user_may_see(
    cast: dict[str, User], register: dict[str, Address]
) -> None:
    # The hotline takes calls city-wide; a Tianhe street officer sees their street only.
    _, body = get(cast["hotline"], q="同和路8号")
    assert {c["district_code"] for c in body["candidates"]} == {"440106", "440104"}
    _, body = get(cast["street"], q="同和路8号")
    assert {c["text"] for c in body["candidates"]} == {"广州市天河区同和路8号"}
    assert APIClient().get("/api/geocode/", {"q": "同和路8号"}).status_code in (401, 403)


def test_the_api_explains_a_query_it_cannot_use(
    cast: dict[str, User], register: dict[str, Address]
) -> None:
    status, body = get(cast["hotline"], q="123号")
    assert status == 400
    assert "路名" in str(body["q"])
    status, body = get(cast["hotline"], q="华景路", limit="50")
    assert status == 400 and "limit" in body


def _edit_distance_table(query: str, address: str) -> float:
    """The weighted distance by its whole table, as edit_distance() defines it."""
    previous = [float(j) for j in range(len(address) + 1)]
    for i, char_q in enumerate(query, 1):
        current = [float(i)]
        for j, char_a in enumerate(address, 1):
            substitution = previous[j - 1] + (0.0 if char_q == char_a else 0.8)
            current.append(min(previous[j] + 1.0, current[j - 1] + 1.0, substitution))
        previous = current
    n = len(address)
    return min(cost + 0.25 * (n - j) for j, cost in enumerate(previous))


def test_the_edit_distance_equals_its_whole_table() -> None:
    # edit_distance() leaves a common beginning out; on a small alphabet (many common
    # beginnings, repeats, spaces) it gives the whole table's distance every time.
    import random

    assert (geocoding.SUBSTITUTION_COST, geocoding.TRAILING_COST) == (0.8, 0.25)
    rng = random.Random(5)
    for _ in range(20000):
        query = "".join(rng.choice("ab 路1") for _ in range(rng.randint(0, 8)))
        address = "".join(rng.choice("ab 路1") for _ in range(rng.randint(0, 10)))
        expected = _edit_distance_table(query, address)
        assert geocoding.edit_distance(query, address) == pytest.approx(expected), (query, address)
