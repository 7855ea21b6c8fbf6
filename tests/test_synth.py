import re
from collections.abc import Callable
from typing import Any, TypedDict

import numpy as np
import pytest

from fixtures import synth
from layers.models import ComponentState, EntityStatus, PersonType
from layers.validators import (
    component_codes_valid,
    credit_codes_valid,
    id_numbers_valid,
    validate_component_code,
    validate_credit_code,
    validate_id_number,
    validate_phone,
)


class District(TypedDict):
    district_code: str
    district_name: str


TIANHE: District = {"district_code": "440106", "district_name": "天河区"}
HAN = re.compile(r"^[\u4e00-\u9fff]+$")

Generator = Callable[..., dict[str, np.ndarray]]
TABLES: list[tuple[str, Generator, dict[str, Any]]] = [
    ("people", synth.people, {**TIANHE}),
    ("legal_entities", synth.legal_entities, {**TIANHE}),
    ("components", synth.components, {**TIANHE, "major": "01", "minor": "04"}),
    ("addresses", synth.addresses, {**TIANHE}),
    ("buildings", synth.buildings, {**TIANHE}),
]


@pytest.mark.parametrize(("name", "generate", "where"), TABLES, ids=[t[0] for t in TABLES])
def test_it_generates_the_same_rows_for_the_same_seed(
    name: str, generate: Generator, where: dict[str, Any]
) -> None:
    first = generate(42, 500, start=1000, **where)
    again = generate(42, 500, start=1000, **where)
    other_seed = generate(43, 500, start=1000, **where)
    assert first.keys() == again.keys()
    for column in first:
        assert len(first[column]) == 500
        assert np.array_equal(first[column], again[column]), column
    assert any(not np.array_equal(first[c], other_seed[c]) for c in first)


@pytest.mark.parametrize(("name", "generate", "where"), TABLES, ids=[t[0] for t in TABLES])
def test_rows_do_not_depend_on_how_the_population_is_chunked(
    name: str, generate: Generator, where: dict[str, Any]
) -> None:
    whole = generate(7, 1000, start=5000, **where)
    # Out of order and of uneven sizes, as parallel workers would produce them.
    parts = [generate(7, 613, start=5387, **where), generate(7, 387, start=5000, **where)]
    for column in whole:
        pieced = np.concatenate([parts[1][column], parts[0][column]])
        assert np.array_equal(whole[column], pieced), column


def test_every_id_number_is_valid_and_unique_across_chunks() -> None:
    chunks = [
        synth.id_numbers(1, 50_000, district_code="440106", start=start)
        for start in (150_000, 0, 100_000, 50_000)
    ]
    ids = np.concatenate(chunks)
    ok, reasons = id_numbers_valid(ids)
    assert ok.all(), reasons[~ok][:3]
    assert len(np.unique(ids)) == len(ids)
    assert all(validate_id_number(str(value)) == value for value in ids[:200])
    assert {value[:6] for value in ids} == {"440106"}
    # Far-apart rows of the same district never collide either.
    tail = synth.id_numbers(1, 50_000, district_code="440106", start=synth.ID_CAPACITY - 50_000)
    assert not set(tail) & set(ids)


def test_id_numbers_have_a_plausible_age_profile() -> None:
    ids = synth.id_numbers(3, 100_000, district_code="440104")
    years = np.array([int(value[6:10]) for value in ids])
    sequences = np.array([int(value[14:17]) for value in ids])
    assert years.min() >= 1925
    assert years.max() <= 2024
    assert sequences.min() >= 1
    assert sequences.max() <= 999
    working_age = ((years >= 1965) & (years < 2005)).mean()
    over_85 = (years < 1940).mean()
    assert 0.5 < working_age < 0.75
    assert over_85 < 0.03
    # Odd and even sequence numbers (male and female) in about equal numbers.
    assert 0.45 < (sequences % 2).mean() < 0.55


def test_it_refuses_rows_beyond_the_id_capacity_and_bad_district_codes() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        synth.id_numbers(1, 10, district_code="440106", start=synth.ID_CAPACITY - 5)
    with pytest.raises(ValueError, match="6-digit division code"):
        synth.id_numbers(1, 10, district_code="4401")
    with pytest.raises(ValueError, match="6-digit division code"):
        synth.id_numbers(1, 10, district_code="990106")


def test_people_look_like_a_chinese_population() -> None:
    rows = synth.people(11, 20_000, **TIANHE)
    names = rows["name"]
    assert all(HAN.match(name) and 2 <= len(name) <= 4 for name in names)
    family = [name[:2] if name[:2] in synth.FAMILY_NAMES[0] else name[0] for name in names]
    assert set(family) <= set(synth.FAMILY_NAMES[0])
    assert 0.05 < np.mean([f == "王" for f in family]) < 0.1
    assert any(len(f) == 2 for f in family)  # 欧阳, 司徒 … turn up
    assert len(set(names)) > 5_000

    types = rows["person_type"]
    assert set(types) <= set(PersonType.values)
    assert abs((types == "registered").mean() - 0.55) < 0.02
    assert abs((types == "floating").mean() - 0.43) < 0.02
    assert 0.01 < (types == "foreign").mean() < 0.03

    phones = [phone for phone in rows["phone"] if phone]
    assert 0.85 < len(phones) / len(names) < 0.95
    assert all(validate_phone(phone) == phone for phone in phones)

    registered = types == "registered"
    assert all(re.fullmatch(r"440106\d{9}", h) for h in rows["household"][registered])
    assert not any(rows["household"][~registered])
    assert all(
        re.fullmatch(r"广州市天河区.+\d+号.*\d{3}房", address) for address in rows["address"]
    )


def test_members_of_a_household_share_its_address() -> None:
    rows = synth.people(11, 2000, **TIANHE, start=700)
    household = (700 + np.arange(2000)) * 5 // 14
    for number in np.unique(household):
        assert len(set(rows["address"][household == number])) == 1


def test_every_credit_code_is_valid_unique_and_matches_the_entity_type() -> None:
    chunks = [
        synth.legal_entities(5, 40_000, **TIANHE, start=start) for start in (40_000, 0, 80_000)
    ]
    codes = np.concatenate([chunk["credit_code"] for chunk in chunks])
    ok, reasons = credit_codes_valid(codes)
    assert ok.all(), reasons[~ok][:3]
    assert len(np.unique(codes)) == len(codes)
    assert all(validate_credit_code(str(code)) == code for code in codes[:200])
    assert np.array_equal(
        chunks[1]["credit_code"], synth.credit_codes(5, 40_000, district_code="440106")
    )

    types = np.concatenate([chunk["entity_type"] for chunk in chunks])
    expected_prefix = {"企业": {"91"}, "个体工商户": {"92"}, "机关": {"11"}, "事业单位": {"12"}}
    expected_prefix["社会组织"] = {"51", "52", "53"}
    for kind, prefixes in expected_prefix.items():
        found = {code[:2] for code in codes[types == kind]}
        assert found and found <= prefixes, kind
    assert {code[2:8] for code in codes} == {"440106"}


def test_legal_entities_have_plausible_names_and_statuses() -> None:
    rows = synth.legal_entities(5, 10_000, **TIANHE)
    names, types = rows["name"], rows["entity_type"]
    assert all(name.startswith("广州市天河区") and HAN.match(name) for name in names)
    assert all(name.endswith("公司") for name in names[types == "企业"])
    assert any(name.endswith("街道办事处") for name in names[types == "机关"])
    assert set(rows["status"]) <= set(EntityStatus.values)
    assert 0.8 < (rows["status"] == "active").mean() < 0.92
    assert 0.45 < (types == "企业").mean() < 0.6
    assert all(address.startswith("广州市天河区") for address in rows["address"])


def test_component_codes_are_valid_and_carry_their_class() -> None:
    rows = synth.components(9, 5000, **TIANHE, major="01", minor="04", start=100)
    ok, reasons = component_codes_valid(rows["code"])
    assert ok.all(), reasons[~ok][:3]
    assert validate_component_code(str(rows["code"][0])) == ("440106", "01", "04", "000101")
    assert rows["code"][-1] == "4401060104005100"
    # Electricity manhole covers belong to the power company.
    assert set(rows["owner_unit"]) == {"广州市供电局"}
    assert set(rows["maintainer_unit"]) == {"广州市供电局天河区供电分局"}
    assert set(rows["state"]) <= set(ComponentState.values)
    assert (rows["state"] == "normal").mean() > 0.9

    greening = synth.components(9, 1000, **TIANHE, major="04", minor="01")
    assert set(greening["competent_unit"]) == {"广州市林业和园林局"}
    assert len(set(greening["maintainer_unit"])) == 2

    with pytest.raises(ValueError, match="999999"):
        synth.component_codes("440106", "01", "01", np.array([1_000_000]))


def test_every_major_class_has_units() -> None:
    assert set(synth.UNITS_BY_MAJOR) == {"01", "02", "03", "04", "05", "06", "99"}
    for triples in synth.UNITS_BY_MAJOR.values():
        assert triples and all(len(triple) == 3 and all(triple) for triple in triples)


def test_addresses_are_unique_and_well_formed() -> None:
    rows = synth.addresses(2, 50_000, **TIANHE, start=10_000)
    assert len(np.unique(rows["code"])) == 50_000
    assert len(np.unique(rows["text"])) == 50_000
    assert all(re.fullmatch(r"440106\d{7}", code) for code in rows["code"])
    road = re.compile(r"[\u4e00-\u9fff]{2}[东西南北中]?(路|街|大道|大街|巷|横路|直街)[东西南北中]?")
    assert all(road.fullmatch(name) for name in rows["road"])
    assert all(re.fullmatch(r"[1-9]\d*号", number) for number in rows["house_number"])
    for text, name, number, building in zip(
        rows["text"], rows["road"], rows["house_number"], rows["building_name"], strict=True
    ):
        assert text == f"广州市天河区{name}{number}{building}"
    estates = rows["building_name"] != ""
    assert 0.25 < estates.mean() < 0.45
    assert any(re.fullmatch(r".+[1-7]栋", b) for b in rows["building_name"][estates])


def test_every_road_of_a_district_has_its_own_name() -> None:
    roads = synth._road_names(2, 0, len(synth._ROAD_SPACE), "440106")
    assert len(set(roads)) == len(roads) > 4000
    assert "中山大道西" in set(roads) or any(r.endswith("大道西") for r in roads)
    assert any(re.fullmatch(r"..[东西南北中]路", r) for r in roads)


def test_buildings_stand_at_the_addresses_of_the_same_rows() -> None:
    places = synth.addresses(2, 2000, **TIANHE)
    rows = synth.buildings(2, 2000, **TIANHE)
    assert np.array_equal(rows["address_text"], places["text"])
    assert np.array_equal(rows["code"], np.strings.add("JZ", places["code"]))
    estates = places["building_name"] != ""
    assert (rows["floors"][estates] >= 6).all()
    assert (rows["floors"] >= 1).all() and (rows["floors"] <= 33).all()
