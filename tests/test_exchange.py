"""Hand-offs to other systems (issue 16, item 6): outbound webhooks posted to a local
receiver (signed, retried, logged, replayed) and the provincial 12345 JSON exchange
(batch import idempotent by ticket number, 回单 export)."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from exchange import webhooks
from exchange.models import ProvincialTicket, Webhook, WebhookDelivery
from gridmgmt import clock
from incidents.models import Case, Source
from incidents.outbox import sequence
from layers.models import Area, Unit
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, MONDAY_10, act, client_for, photo, report


class Receiver:
    """A department's system: answers with the next status of `answers` (then 200) and
    keeps what it was sent."""

    def __init__(self) -> None:
        self.answers: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers.items()), body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    thread = threading.Thread(target=target.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield target
    finally:
        target.server.shutdown()
        target.server.server_close()


def _street_unit() -> Unit:
    return Unit.objects.get(area__code="440106001", kind="territorial")


def test_webhooks_are_signed_retried_logged_and_replayed(
    loop: dict[str, User], small_city: dict[str, Area], receiver: Receiver
) -> None:
    hook = Webhook.objects.create(name="街道自建系统", unit=_street_unit(), url=receiver.url)
    elsewhere = Webhook.objects.create(
        name="水务", unit=Unit.objects.get(name__contains="水务"), url=receiver.url
    )
    with clock.travel(MONDAY_10, tick=False):
        case_id = int(report(loop["inspector"], small_city).json()["case"]["id"])
        act(loop["street"], case_id, "file")
        act(loop["street"], case_id, "dispatch")
        sequence()  # the numbering after commit (the test's transaction never commits)
        assert webhooks.collect() == 3
    # The report and its filing were the street's area's, not yet its unit's case.
    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.webhook, delivery.kind) == (hook, "case.dispatch")
    assert not elsewhere.deliveries.exists()

    receiver.answers = [500]
    with time_machine.travel(MONDAY_10, tick=False):
        assert webhooks.deliver_due() == [(delivery.pk, "pending")]
    with time_machine.travel(MONDAY_10 + dt.timedelta(seconds=29), tick=False):
        assert webhooks.deliver_due() == []  # back-off: 30 s
    with time_machine.travel(MONDAY_10 + dt.timedelta(seconds=30), tick=False):
        assert webhooks.deliver_due() == [(delivery.pk, "sent")]
    assert [(a.status, a.error) for a in delivery.log.all()] == [
        (500, "Internal Server Error"), (200, "")
    ]  # fmt: skip

    [(headers, body), (again_headers, again_body)] = receiver.received
    assert body == again_body
    sent = json.loads(body)
    assert (sent["event"], sent["case"]["id"], sent["case"]["state"]) == (
        "case.dispatch", case_id, "dispatched",
    )  # fmt: skip
    assert headers["X-Gridmgmt-Event"] == "case.dispatch"
    signed = again_headers["X-Gridmgmt-Signature"]
    with time_machine.travel(MONDAY_10 + dt.timedelta(seconds=31), tick=False):
        assert webhooks.verify(hook.secret, signed, body)
        assert not webhooks.verify("another-secret", signed, body)
        assert not webhooks.verify(hook.secret, signed, body + b" ")
    assert not webhooks.verify(hook.secret, signed, body)  # days later: too old

    # The log over the API, and a replay: the same body under a new delivery.
    admin = client_for(loop["admin"])
    listed = admin.get(f"/api/exchange/webhooks/deliveries/?webhook={hook.pk}").json()
    assert [d["state"] for d in listed["deliveries"]] == ["sent"]
    assert [entry["status"] for entry in listed["deliveries"][0]["log"]] == [500, 200]
    assert client_for(loop["street"]).post(
        f"/api/exchange/webhooks/deliveries/{delivery.pk}/replay/"
    ).status_code == 403  # fmt: skip
    replayed = admin.post(f"/api/exchange/webhooks/deliveries/{delivery.pk}/replay/")
    assert replayed.status_code == 201 and replayed.json()["replay_of"] == delivery.pk
    call_command("run_delivery_worker", "--once", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert len(receiver.received) == 3 and receiver.received[2][1] == body
    assert receiver.received[2][0]["X-Gridmgmt-Delivery"] == str(replayed.json()["id"])
    assert WebhookDelivery.objects.get(pk=replayed.json()["id"]).state == "sent"


def test_an_unreachable_receiver_is_given_up_after_the_last_attempt(
    loop: dict[str, User], small_city: dict[str, Area], settings: object
) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS = 2  # type: ignore[attr-defined]
    hook = Webhook.objects.create(name="停用的系统", unit=_street_unit(), url="http://127.0.0.1:9/")
    with clock.travel(MONDAY_10, tick=False):
        case_id = int(report(loop["inspector"], small_city).json()["case"]["id"])
        act(loop["street"], case_id, "file")
        act(loop["street"], case_id, "dispatch")
        sequence()
        webhooks.collect()
        [(delivery_id, state)] = webhooks.deliver_due()
        assert state == "pending"
    with clock.travel(MONDAY_10 + dt.timedelta(minutes=5), tick=False):
        assert webhooks.deliver_due() == [(delivery_id, "failed")]
    delivery = hook.deliveries.get()
    assert delivery.attempts == 2 and delivery.next_attempt_at is None
    assert all(a.status is None and "Connection" in a.error for a in delivery.log.all())


def _ticket(number: str, city: dict[str, Area], **extra: object) -> dict[str, object]:
    point = centre(city[INSPECTOR_CELL])
    return {
        "ticket_no": number, "type": "投诉", "channel": "phone", "category": "0101",
        "description": "小区门口垃圾无人清运", "address": "天河区测试路1号",
        "lon": point.x, "lat": point.y, "datum": "wgs84",
        "caller_name": "王先生", "caller_phone": "13700000000",
        "received_at": "2026-11-23T09:30:00+08:00", **extra,
    }  # fmt: skip


@clock.travel(MONDAY_10, tick=False)
def test_provincial_tickets_import_once_and_export_their_results(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    hotline = client_for(loop["hotline"])
    batch = {"tickets": [
        _ticket("GD-2026-0001", small_city, notify_on_close=True),
        _ticket("GD-2026-0002", small_city, category="9999"),
        {"type": "咨询"},
    ]}  # fmt: skip
    first = hotline.post("/api/exchange/12345/tickets/", batch, format="json")
    assert first.status_code == 200, first.json()
    [created] = first.json()["created"]
    assert created["ticket_no"] == "GD-2026-0001"
    assert [(r["index"], r["field"]) for r in first.json()["rejected"]] == [
        (1, "category"), (2, "ticket_no")
    ]  # fmt: skip
    case = Case.objects.get(pk=created["case_id"])
    assert case.source == Source.HOTLINE and case.caller_phone == "13700000000"
    assert case.attributes["provincial_ticket_no"] == ["GD-2026-0001"]
    assert case.attributes["notify_on_close"] == ["true"]
    ticket = ProvincialTicket.objects.get(ticket_no="GD-2026-0001")
    assert ticket.ticket_type == "投诉" and ticket.case == case
    assert case.ticket_type == "complaint"  # its reply clock runs (dispatch.hotline)
    assert ticket.received_at == dt.datetime(2026, 11, 23, 1, 30, tzinfo=dt.UTC)

    # The same batch again: no new case (idempotent by ticket number).
    again = hotline.post("/api/exchange/12345/tickets/", batch, format="json").json()
    assert again["created"] == [] and again["existing"] == [created]
    assert Case.objects.count() == 1

    street = loop["street"]
    for action, body in [("file", {}), ("dispatch", {}), ("sign", {}),
                         ("handle", {"note": "已清运", "photos": [photo()]})]:  # fmt: skip
        assert act(street, case.pk, action, **body).status_code == 200, action
    open_results = hotline.get("/api/exchange/12345/results/").json()["results"]
    assert [(r["ticket_no"], r["state"], r["closed"], r["reply"]) for r in open_results] == [
        ("GD-2026-0001", "handled", False, "已清运")
    ]  # fmt: skip
    since = open_results[0]["updated_at"]
    assert act(loop["inspector"], case.pk, "verify", passed=True).status_code == 200
    with clock.travel(MONDAY_10 + dt.timedelta(minutes=5), tick=False):
        assert act(street, case.pk, "close").status_code == 200
        later = hotline.get("/api/exchange/12345/results/", {"since": since}).json()["results"]
    [result] = later
    assert (result["state"], result["closed"], result["closed_on_time"]) == ("closed", True, True)
    case.refresh_from_db()
    assert case.unit is not None
    assert result["closed_at"] is not None and result["unit"] == case.unit.name
    ticket.refresh_from_db()
    assert ticket.exported_at is not None
    assert hotline.get("/api/exchange/12345/results/", {"since": "yesterday"}).status_code == 400


def test_only_the_hotline_exchanges_with_the_province(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    batch = {"tickets": [_ticket("GD-2026-0009", small_city)]}
    refused = client_for(loop["street"]).post("/api/exchange/12345/tickets/", batch, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert client_for(loop["street"]).get("/api/exchange/12345/results/").status_code == 403
    bad = client_for(loop["hotline"]).post("/api/exchange/12345/tickets/", [1], format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "tickets"
    assert not ProvincialTicket.objects.exists()


@clock.travel(MONDAY_10, tick=False)
def test_the_exchange_runs_from_files_too(
    loop: dict[str, User], small_city: dict[str, Area], tmp_path: Path
) -> None:
    batch = tmp_path / "tickets.json"
    tickets = {"tickets": [_ticket("GD-2026-0100", small_city)]}
    batch.write_text(json.dumps(tickets, ensure_ascii=False), encoding="utf-8")
    out = io.StringIO()
    call_command("exchange_12345", "import", str(batch), "--user", "hotline", stdout=out)
    [created] = json.loads(out.getvalue())["created"]
    assert created["ticket_no"] == "GD-2026-0100"
    out = io.StringIO()
    call_command("exchange_12345", "import", str(batch), stdout=out)
    assert json.loads(out.getvalue())["existing"] == [created]
    out = io.StringIO()
    call_command("exchange_12345", "export", stdout=out)
    [result] = json.loads(out.getvalue())["results"]
    assert (result["ticket_no"], result["state"]) == ("GD-2026-0100", "reported")
    with pytest.raises(CommandError, match="只有"):
        call_command("exchange_12345", "import", str(batch), "--user", "street")
