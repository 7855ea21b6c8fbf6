"""一数一源 and 一级采集 (stewardship): sources of imports and edits, field history in the
API and the admin, owners apply while others propose, the review queue, duplicates."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from layers.importing.core import import_file
from layers.models import Area, Category, CategoryKind, Component, Person, Staff
from stewardship import duplicates
from stewardship.models import (
    FieldChange,
    ImportedRow,
    LayerOwner,
    MergedRecord,
    Proposal,
    Source,
    SourceKind,
)
from tests.cast import CELLS, centre, with_check_digit

# A 1x1 PNG: the photo of a proposal.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
def catalogue(db: None) -> None:
    Category.objects.create(kind=CategoryKind.COMPONENT, major_code="01", name="公用设施")
    Category.objects.create(
        kind=CategoryKind.COMPONENT, major_code="01", minor_code="01", name="上水井盖"
    )


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def lonlat(area: Area) -> dict[str, float]:
    point = centre(area)
    return {"lon": point.x, "lat": point.y}


def component_at(area: Area, code: str = "4401060101000001", **fields: str) -> Component:
    return Component.objects.create(
        code=code, category=Category.objects.get(minor_code="01"), geom=centre(area), **fields
    )


def own_water_components(cast: dict[str, User]) -> None:
    LayerOwner.objects.create(
        layer=ContentType.objects.get_for_model(Component),
        unit=Staff.objects.get(user=cast["department"]).unit,
    )


def test_it_records_one_source_per_import_batch_and_links_the_rows_it_wrote(
    cast: dict[str, User], catalogue: None, small_city: dict[str, Area], tmp_path: Path
) -> None:
    path = tmp_path / "components.csv"
    path.write_text(
        "code,name,lon,lat\n"
        "4401060101000001,井盖一,113.305,23.105\n"
        "4401060101000002,井盖二,113.306,23.105\n",
        encoding="utf-8",
    )
    unit = Staff.objects.get(user=cast["department"]).unit
    call_command(
        "import_layer", "components", str(path), "--no-progress", "--source-unit", unit.name,
        "--source-user", "data_admin", stdout=io.StringIO(),
    )  # fmt: skip
    batch = Source.objects.get(kind=SourceKind.IMPORT)
    assert (batch.unit, batch.user, batch.file_name) == (unit, cast["data_admin"], path.name)
    assert (batch.inserted, batch.updated) == (2, 0)
    # Inserted rows are named by their id range, not one row each.
    ids = list(Component.objects.order_by("pk").values_list("pk", flat=True))
    assert (batch.first_id, batch.last_id) == (ids[0], ids[-1])
    assert not ImportedRow.objects.exists()

    first = Component.objects.get(code="4401060101000001")
    body = (
        client_for(cast["data_admin"])
        .get(f"/api/stewardship/records/components/{first.pk}/")
        .json()
    )
    assert [(e["kind"], e["file_name"], e["unit"]) for e in body["history"]] == [
        ("import", path.name, unit.name)
    ]


def test_a_reimport_links_the_rows_it_changed_and_names_the_ones_it_inserted(
    cast: dict[str, User], catalogue: None, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "code,name,lon,lat\n4401060101000001,一,113.305,23.105\n"
        "4401060101000002,二,113.306,23.105\n",
        encoding="utf-8",
    )
    first = import_file("components", path)
    # Into the empty layer: its range is the table's, read from the primary key alone.
    ids = list(Component.objects.order_by("pk").values_list("pk", flat=True))
    batch = Source.objects.get(kind=SourceKind.IMPORT)
    assert first.first_load and (batch.first_id, batch.last_id) == (ids[0], ids[-1])
    # The second import runs in its own transaction, as import_layer's do.
    Component.objects.update(updated_at=timezone.now() - datetime.timedelta(days=1))
    path.write_text(
        "code,name,lon,lat\n4401060101000001,一改,113.305,23.105\n"
        "4401060101000002,二,113.306,23.105\n4401060101000003,三,113.307,23.105\n",
        encoding="utf-8",
    )
    assert not import_file("components", path, provenance={"system": "城管系统"}).first_load
    second = Source.objects.filter(kind=SourceKind.IMPORT).order_by("pk").last()
    assert second is not None and (second.inserted, second.updated) == (1, 1)
    assert second.system == "城管系统"
    changed = Component.objects.get(code="4401060101000001")
    new = Component.objects.get(code="4401060101000003")
    assert list(ImportedRow.objects.filter(source=second).values_list("object_id", flat=True)) == [
        changed.pk
    ]
    assert (second.first_id, second.last_id) == (new.pk, new.pk)
    admin = client_for(cast["data_admin"])
    for record, batches in [(changed, 2), (new, 1)]:
        body = admin.get(f"/api/stewardship/records/components/{record.pk}/").json()
        assert len([e for e in body["history"] if e["kind"] == "import"]) == batches
    unchanged = Component.objects.get(code="4401060101000002")
    body = admin.get(f"/api/stewardship/records/components/{unchanged.pk}/").json()
    assert [e["system"] for e in body["history"]] == ["import_layer"]


def test_the_owning_department_changes_directly_and_others_propose(
    cast: dict[str, User], catalogue: None, small_city: dict[str, Area]
) -> None:
    own_water_components(cast)
    component = component_at(small_city[CELLS["own"]])
    url = f"/api/stewardship/records/components/{component.pk}/"
    body = {"values": {"maintainer_unit": "水务养护所", "state": "damaged"}}

    answer = client_for(cast["department"]).patch(url, body, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["applied"] is True
    component.refresh_from_db()
    assert (component.maintainer_unit, component.state) == ("水务养护所", "damaged")
    changes = FieldChange.objects.filter(object_id=component.pk).order_by("field")
    assert [(c.field, c.old, c.new) for c in changes] == [
        ("maintainer_unit", "", "水务养护所"),
        ("state", "normal", "damaged"),
    ]
    assert changes[0].source.user == cast["department"]

    street = client_for(cast["street"]).patch(
        url, {"values": {"name": "新名称"}}, content_type="application/json"
    )
    assert street.status_code == 202, street.content
    assert street.json()["applied"] is False
    component.refresh_from_db()
    assert component.name == ""
    assert Proposal.objects.get().values == {"name": "新名称"}


def test_an_inspector_proposes_in_their_cell_and_sees_the_outcome(
    cast: dict[str, User], catalogue: None, small_city: dict[str, Area]
) -> None:
    inspector = client_for(cast["inspector"])
    data = {
        "layer": "components",
        "values": json.dumps({"code": "4401060101000009", "name": "新井盖"}),
        "client_id": "phone-1",
        "photo": SimpleUploadedFile("p.png", PNG, content_type="image/png"),
        **lonlat(small_city[CELLS["own"]]),
    }
    answer = inspector.post("/api/stewardship/proposals/", data)
    assert answer.status_code == 201, answer.content
    proposal_id = answer.json()["id"]
    assert answer.json()["photo"]
    # The offline queue sends it again, with the names map_ui's queue.js gives: kept once.
    again_data = {**data, "client_uuid": data.pop("client_id")}
    again_data["photos"] = SimpleUploadedFile("p.png", PNG, content_type="image/png")
    del again_data["photo"]
    again = inspector.post("/api/stewardship/proposals/", again_data)
    assert again.json()["id"] == proposal_id and Proposal.objects.count() == 1
    # Outside their cells: refused.
    elsewhere = {**data, "client_id": "phone-2", **lonlat(small_city[CELLS["other_street"]])}
    elsewhere.pop("photo", None)
    refused = inspector.post("/api/stewardship/proposals/", elsewhere)
    assert refused.status_code == 403 and refused.json()["code"] == "not_permitted"

    admin = client_for(cast["data_admin"])
    queue = admin.get("/api/stewardship/proposals/?queue=1").json()["results"]
    assert [p["id"] for p in queue] == [proposal_id] and queue[0]["may_review"] is True
    assert inspector.get("/api/stewardship/proposals/?queue=1").json()["results"] == []
    denied = inspector.post(f"/api/stewardship/proposals/{proposal_id}/accept/")
    assert denied.status_code == 403

    accepted = admin.post(f"/api/stewardship/proposals/{proposal_id}/accept/")
    assert accepted.status_code == 200, accepted.content
    component = Component.objects.get(code="4401060101000009")
    assert component.cell == small_city[CELLS["own"]] and component.name == "新井盖"
    source = Source.objects.get(kind=SourceKind.PROPOSAL)
    assert (source.user, source.proposal_id) == (cast["inspector"], proposal_id)

    mine = inspector.get(f"/api/stewardship/proposals/{proposal_id}/").json()
    assert (mine["status"], mine["result_id"], mine["reviewer"]) == (
        "accepted", component.pk, "data_admin",
    )  # fmt: skip
    again_accept = admin.post(f"/api/stewardship/proposals/{proposal_id}/accept/")
    assert again_accept.status_code == 409


def test_a_rejection_needs_a_reason_and_the_inspector_reads_it(
    cast: dict[str, User], catalogue: None, small_city: dict[str, Area]
) -> None:
    inspector = client_for(cast["inspector"])
    made = inspector.post(
        "/api/stewardship/proposals/",
        {"layer": "buildings", "values": {"code": "B1", "name": "仓库"},
         **lonlat(small_city[CELLS["own"]])},
        content_type="application/json",
    )  # fmt: skip
    pk = made.json()["id"]
    admin = client_for(cast["data_admin"])
    no_reason = admin.post(f"/api/stewardship/proposals/{pk}/reject/", {}, "application/json")
    assert no_reason.status_code == 400 and no_reason.json()["field"] == "reason"
    admin.post(f"/api/stewardship/proposals/{pk}/reject/", {"reason": "已拆除"}, "application/json")
    outcome = inspector.get("/api/stewardship/proposals/").json()["results"][0]
    assert (outcome["status"], outcome["reason"]) == ("rejected", "已拆除")


def test_accepting_runs_the_validators_and_leaves_a_bad_proposal_pending(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    made = client_for(cast["inspector"]).post(
        "/api/stewardship/proposals/",
        {"layer": "population", "values": {"id_number": "123", "name": "赵六"},
         **lonlat(small_city[CELLS["own"]])},
        content_type="application/json",
    )  # fmt: skip
    pk = made.json()["id"]
    answer = client_for(cast["data_admin"]).post(f"/api/stewardship/proposals/{pk}/accept/")
    assert answer.status_code == 400 and answer.json()["field"] == "id_number"
    assert Proposal.objects.get(pk=pk).status == "pending"
    assert not Person.objects.filter(name="赵六").exists()


def test_personal_data_stays_masked_in_the_history_for_roles_that_may_not_see_it(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    person = residents["own"]
    old_id = person.id_number
    new_id = with_check_digit("44010619900101099")
    url = f"/api/stewardship/records/population/{person.pk}/"
    answer = client_for(cast["data_admin"]).patch(
        url, {"values": {"id_number": new_id}}, content_type="application/json"
    )
    assert answer.json()["applied"] is True

    def change(user: str) -> dict[str, str]:
        body = client_for(cast[user]).get(url).json()
        return next(c for e in body["history"] for c in e["changes"] if c["key"] == "id_number")

    assert (change("data_admin")["old"], change("data_admin")["new"]) == (old_id, new_id)
    masked = change("street")
    assert masked["new"] == new_id[:6] + "********" + new_id[-4:]
    assert old_id not in json.dumps(client_for(cast["street"]).get(url).json())
    # A record the user may not see has no history for them either.
    other = residents["other_district"]
    assert (
        client_for(cast["street"])
        .get(f"/api/stewardship/records/population/{other.pk}/")
        .status_code
        == 404
    )


def test_duplicates_are_found_reported_and_merged_with_history(
    cast: dict[str, User], small_city: dict[str, Area], tmp_path: Path
) -> None:
    cell = small_city[CELLS["own"]]
    # An ID number ending in X, saved once with a lower-case x: the same person twice.
    key = next(
        k for n in range(100, 999) if (k := with_check_digit(f"44010619900101{n}")).endswith("X")
    )
    first = Person.objects.create(name="钱七", id_number=key, phone="", geom=centre(cell))
    second = Person.objects.create(
        name="钱七", id_number=key.lower(), phone="13800001111", geom=centre(cell)
    )
    from layers.models import Address

    Address.objects.create(code="A1", text="天河路1号", geom=centre(cell))
    near = centre(cell)
    Address.objects.create(code="A2", text="天河路1号 ", geom=Point(near.x + 0.0001, near.y))
    Address.objects.create(code="A3", text="体育西路99号", geom=centre(cell))

    report = tmp_path / "dups.csv"
    out = io.StringIO()
    call_command("find_duplicates", "--report", str(report), stdout=out)
    assert "population: 1 groups, 2 records" in out.getvalue()
    assert "addresses: 1 groups, 2 records" in out.getvalue()
    lines = report.read_text(encoding="utf-8").splitlines()
    assert f"population,id_number,{first.pk},{second.pk}" in lines

    call_command("find_duplicates", "--layer", "population", "--merge",
                 "--report", str(report), stdout=io.StringIO())  # fmt: skip
    assert list(Person.objects.filter(name="钱七").values_list("pk", "phone")) == [
        (first.pk, "13800001111")
    ]
    merged = MergedRecord.objects.get()
    assert (merged.kept_id, merged.removed_id) == (first.pk, second.pk)
    assert merged.values["phone"] == "13800001111"
    change = FieldChange.objects.get(object_id=first.pk, field="phone")
    assert (change.old, change.new, change.source.kind) == ("", "13800001111", "merge")
    assert duplicates.find("population") == []


def test_an_admin_edit_writes_the_history_that_its_change_form_shows(
    cast: dict[str, User], catalogue: None, small_city: dict[str, Area]
) -> None:
    component = component_at(small_city[CELLS["own"]], name="旧名")
    admin = client_for(User.objects.get(username="admin"))
    url = f"/admin/layers/component/{component.pk}/change/"
    form = admin.get(url)
    assert form.status_code == 200
    data = {
        "code": component.code, "category": component.category_id, "name": "新名",
        "competent_unit": "", "owner_unit": "", "maintainer_unit": "", "state": "normal",
        "geom": f"SRID=4326;POINT ({component.geom.x} {component.geom.y})",
    }  # fmt: skip
    saved = admin.post(url, data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    change = FieldChange.objects.get(object_id=component.pk)
    assert (change.field, change.old, change.new, change.source.system) == (
        "name", "旧名", "新名", "admin",
    )  # fmt: skip
    page = admin.get(url).content.decode()
    assert 'data-field="name"' in page and "旧名 → 新名" in page


def test_the_review_page_is_for_reviewers_only(cast: dict[str, User]) -> None:
    page = client_for(cast["data_admin"]).get("/map/data/review/")
    assert page.status_code == 200
    assert b"stewardship/review.js" in page.content and b'type="module"' in page.content
    assert client_for(cast["inspector"]).get("/map/data/review/").status_code == 403


def test_the_data_page_names_each_layers_owner_and_the_proposals_waiting(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    own_water_components(cast)
    client_for(cast["inspector"]).post(
        "/api/stewardship/proposals/",
        {"layer": "buildings", "values": {"code": "B9", "name": "岗亭"},
         **lonlat(small_city[CELLS["own"]])},
        content_type="application/json",
    )  # fmt: skip
    page = client_for(cast["data_admin"]).get("/map/data/").content.decode()
    water = Staff.objects.get(user=cast["department"]).unit.name
    row = page[page.index('data-layer="component"') :]
    assert row[: row.index("</tr>")].count(water) == 1
    assert 'data-pending="1"' in page and 'href="/map/data/quality/"' in page


def test_set_layer_owner_names_the_department_whose_staff_apply_directly(
    cast: dict[str, User], catalogue: None, small_city: dict[str, Area]
) -> None:
    water = Staff.objects.get(user=cast["department"]).unit
    out = io.StringIO()
    call_command("set_layer_owner", "components", water.name, stdout=out)
    assert out.getvalue().strip() == f"components: owned by {water.name}"
    component = component_at(small_city[CELLS["own"]])
    answer = client_for(cast["department"]).patch(
        f"/api/stewardship/records/components/{component.pk}/",
        {"values": {"owner_unit": "市水务局"}},
        content_type="application/json",
    )
    assert answer.status_code == 200 and answer.json()["applied"] is True
    with pytest.raises(CommandError):
        call_command("set_layer_owner", "components", "没有这个单位", stdout=io.StringIO())


def test_the_review_queue_costs_the_same_queries_for_one_proposal_or_many(
    cast: dict[str, User], residents: dict[str, Person], small_city: dict[str, Area]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    inspector = client_for(cast["inspector"])
    admin = client_for(cast["data_admin"])
    street = client_for(cast["street"])
    key = with_check_digit("44010619900101555")

    def propose(n: int) -> None:
        inspector.post(
            "/api/stewardship/proposals/",
            {"layer": "population", "values": {"id_number": key, "name": f"孙{n}"},
             **lonlat(small_city[CELLS["own"]])},
            content_type="application/json",
        )  # fmt: skip

    def queries(client: Client) -> tuple[int, list[dict[str, Any]]]:
        with CaptureQueriesContext(connection) as captured:
            results = client.get("/api/stewardship/proposals/?queue=1").json()["results"]
        return len(captured), results

    propose(1)
    queries(admin)  # a session's first request reads its user apart (gridmgmt/sessions.py)
    one, _ = queries(admin)
    propose(2)
    propose(3)
    many, results = queries(admin)
    assert len(results) == 3 and many == one
    # The data administrator of the area reads the ID number; the street's queue is empty
    # (it owns no layer); the department owning the layer reviews it masked.
    assert {r["values"]["id_number"] for r in results} == {key}
    assert queries(street)[1] == []
    LayerOwner.objects.create(
        layer=ContentType.objects.get_for_model(Person),
        unit=Staff.objects.get(user=cast["department"]).unit,
    )
    owner = queries(client_for(cast["department"]))[1]
    assert {(r["values"]["id_number"], r["may_review"]) for r in owner} == {
        (key[:6] + "********" + key[-4:], True)
    }
