"""Notifications (issue 16, item 3): each person is told what awaits them, in the inbox
and by e-mail (delivered to a real SMTP server, aiosmtpd) or SMS (the file transport),
with retries, back-off and a stored delivery state."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.contrib.auth.models import User
from django.core.management import call_command
from pytest_django.fixtures import Settings

from gridmgmt import clock
from incidents.models import Case
from layers.models import Area
from notifications.collect import collect
from notifications.delivery import deliver_due, retry
from notifications.models import DeliveryState, Kind, Message, Notification, Preference
from tests.loop import MONDAY_10, act, client_for, photo, report
from tests.servers import free_port


class Mailbox:
    """An SMTP server's handler keeping what it received."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], str, str]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = message_from_bytes(envelope.original_content or b"")
        subject = str(make_header(decode_header(parsed["Subject"])))
        payload = parsed.get_payload(decode=True)
        assert isinstance(payload, bytes)
        body = payload.decode(parsed.get_content_charset() or "utf-8")
        self.received.append((list(envelope.rcpt_tos), subject, body))
        return "250 OK"


@pytest.fixture
def smtp(settings: Settings) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def sms_file(settings: Settings, tmp_path: Path) -> Path:
    settings.NOTIFY_SMS_TRANSPORT = "notifications.transports.FileSms"
    settings.NOTIFY_SMS_FILE = str(tmp_path / "sms.jsonl")
    return tmp_path / "sms.jsonl"


def _with_email(user: User, address: str) -> User:
    user.email = address
    user.save(update_fields=["email"])
    return user


def _dispatched(loop: dict[str, User], city: dict[str, Area]) -> int:
    case_id = int(report(loop["inspector"], city).json()["case"]["id"])
    assert act(loop["street"], case_id, "file").status_code == 200
    assert act(loop["street"], case_id, "dispatch").status_code == 200
    return case_id


def _told(case_id: int) -> list[tuple[str, str]]:
    rows = Notification.objects.filter(case_id=case_id).order_by("seq", "user__username")
    return list(rows.values_list("user__username", "kind"))


@clock.travel(MONDAY_10, tick=False)
def test_it_mails_a_new_assignment_through_a_real_smtp_server(
    loop: dict[str, User], small_city: dict[str, Area], smtp: Mailbox
) -> None:
    _with_email(loop["street"], "street@example.org")
    _with_email(loop["district"], "district@example.org")
    case_id = _dispatched(loop, small_city)

    assert collect() > 0
    # The street office has the case (属地兜底): its staff are told, nobody else.
    assert _told(case_id) == [("street", Kind.ASSIGNED)]
    [message] = Message.objects.filter(case_id=case_id)
    assert (message.transport, message.to, message.state) == (
        "email",
        "street@example.org",
        "pending",
    )

    assert deliver_due() == [(message.pk, DeliveryState.SENT)]
    [(to, subject, body)] = smtp.received
    assert to == ["street@example.org"]
    assert subject == f"新派遣案件 #{case_id}"
    assert "处置时限：2026-11-23 16:00" in body
    message.refresh_from_db()
    assert (message.state, message.attempts, message.last_error) == ("sent", 1, "")
    assert message.sent_at is not None
    # Each event is handled once: a second pass tells nobody again.
    assert collect() == 0 and deliver_due() == []
    assert Notification.objects.filter(case_id=case_id).count() == 1


def test_a_message_is_retried_with_back_off_then_given_up_and_sent_again(
    loop: dict[str, User], small_city: dict[str, Area], settings: Settings
) -> None:
    settings.NOTIFY_RETRY_BASE, settings.NOTIFY_MAX_ATTEMPTS = 30, 3
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    _with_email(loop["street"], "street@example.org")
    with clock.travel(MONDAY_10, tick=False):
        case_id = _dispatched(loop, small_city)
        collect()
        [message] = Message.objects.filter(case_id=case_id)
        assert deliver_due() == [(message.pk, DeliveryState.PENDING)]
        message.refresh_from_db()
        assert message.attempts == 1 and "Connection" in message.last_error
        assert message.next_attempt_at == MONDAY_10 + dt.timedelta(seconds=30)
        assert deliver_due() == []  # not due yet
    with clock.travel(MONDAY_10 + dt.timedelta(seconds=30), tick=False):
        assert deliver_due() == [(message.pk, DeliveryState.PENDING)]
        message.refresh_from_db()
        # Doubled: 60 s after the second attempt.
        assert message.next_attempt_at == MONDAY_10 + dt.timedelta(seconds=90)
    with clock.travel(MONDAY_10 + dt.timedelta(seconds=90), tick=False):
        assert deliver_due() == [(message.pk, DeliveryState.FAILED)]
        message.refresh_from_db()
        assert (message.state, message.attempts, message.next_attempt_at) == ("failed", 3, None)
        assert deliver_due() == []

    # The mail server is back; the administrator sends it again.
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=settings.EMAIL_PORT)
    controller.start()
    try:
        retry(message)
        assert deliver_due() == [(message.pk, DeliveryState.SENT)]
        assert [to for to, _s, _b in mailbox.received] == [["street@example.org"]]
    finally:
        controller.stop()


@clock.travel(MONDAY_10, tick=False)
def test_each_step_tells_whom_it_awaits_and_only_those_who_may_see_the_case(
    loop: dict[str, User], small_city: dict[str, Area], sms_file: Path
) -> None:
    inspector = loop["inspector"]
    Preference.objects.create(user=inspector, closed=True, sms=True, phone="13800000000")
    case_id = _dispatched(loop, small_city)
    street = loop["street"]
    assert act(street, case_id, "sign").status_code == 200
    assert act(street, case_id, "handle", note="已清理", photos=[photo()]).status_code == 200
    assert act(inspector, case_id, "verify", passed=False, note="仍有垃圾").status_code == 200
    assert act(street, case_id, "sign").status_code == 200
    assert act(street, case_id, "handle", note="已清理", photos=[photo()]).status_code == 200
    assert act(inspector, case_id, "verify", passed=True).status_code == 200
    assert act(street, case_id, "close").status_code == 200
    collect()
    assert _told(case_id) == [
        ("street", Kind.ASSIGNED),
        ("inspector", Kind.VERIFY),
        ("street", Kind.REWORK),
        ("inspector", Kind.VERIFY),
        ("inspector", Kind.CLOSED),  # opted in
    ]
    # SMS by the file transport, to the inspector who asked for it.
    deliver_due()
    lines = [json.loads(line) for line in sms_file.read_text(encoding="utf-8").splitlines()]
    assert [line["to"] for line in lines] == ["13800000000"] * 3
    assert lines[-1]["text"].startswith(f"您反映的问题已结案 #{case_id}")
    # Nothing awaited the others: the other inspector, the city, the department.
    assert set(Notification.objects.values_list("user__username", flat=True)) == {
        "street", "inspector"
    }  # fmt: skip


@clock.travel(MONDAY_10, tick=False)
def test_a_caller_who_asked_is_told_by_sms_when_the_case_is_closed(
    loop: dict[str, User], small_city: dict[str, Area], sms_file: Path
) -> None:
    asked, silent = _dispatched(loop, small_city), _dispatched(loop, small_city)
    Case.objects.filter(pk=asked).update(
        caller_phone="13900000001", attributes={"notify_on_close": ["true"]}
    )
    Case.objects.filter(pk=silent).update(caller_phone="13900000002")
    street, inspector = loop["street"], loop["inspector"]
    for case_id in (asked, silent):
        assert act(street, case_id, "sign").status_code == 200
        assert act(street, case_id, "handle", note="已清理", photos=[photo()]).status_code == 200
        assert act(inspector, case_id, "verify", passed=True).status_code == 200
        assert act(street, case_id, "close").status_code == 200
    collect()
    [message] = Message.objects.filter(transport="sms")
    assert (message.to, message.case_id, message.notification) == ("13900000001", asked, None)
    assert deliver_due() == [(message.pk, DeliveryState.SENT)]
    [line] = sms_file.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["to"] == "13900000001"


@clock.travel(MONDAY_10, tick=False)
def test_a_returned_case_and_extension_decisions_are_told(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = _dispatched(loop, small_city)
    street = loop["street"]
    assert act(street, case_id, "return", reason="不属本单位").status_code == 200
    assert act(street, case_id, "dispatch").status_code == 200
    assert act(street, case_id, "sign").status_code == 200
    requested = act(
        street, case_id, "request_extension", reason="需采购材料", kind="extend", hours=8
    )
    assert requested.status_code == 200, requested.json()
    assert act(loop["district"], case_id, "approve_extension").status_code == 200
    collect()
    assert _told(case_id) == [
        ("street", Kind.ASSIGNED),
        ("street", Kind.RETURNED),  # the street office dispatched it
        ("street", Kind.ASSIGNED),
        ("district", Kind.EXTENSION_REQUEST),
        ("street", Kind.EXTENSION_DECISION),
    ]


def test_deadline_warning_overdue_and_supervision_reach_the_unit(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    with clock.travel(MONDAY_10, tick=False):
        case_id = _dispatched(loop, small_city)
    for hour, minute in ((15, 13), (16, 1)):
        moment = MONDAY_10.replace(hour=hour, minute=minute)
        with clock.travel(moment, tick=False):
            call_command("run_sla_worker", "--once", stdout=open("/dev/null", "w"))  # noqa: SIM115
    with clock.travel(MONDAY_10.replace(hour=16, minute=30), tick=False):
        supervised = act(
            loop["district"], case_id, "supervise", note="请今日处置", due_at="2026-11-24"
        )
        assert supervised.status_code == 200, supervised.json()
        call_command("run_notify_worker", "--once", stdout=open("/dev/null", "w"))  # noqa: SIM115
    told = _told(case_id)
    assert told[:2] == [("street", Kind.ASSIGNED), ("street", Kind.WARNING)]
    # Overdue: the unit, and the district command that now supervises it.
    assert sorted(told[2:4]) == [("district", Kind.OVERDUE), ("street", Kind.OVERDUE)]
    assert told[4:] == [("street", Kind.SUPERVISE)]
    case = Case.objects.get(pk=case_id)
    assert case.overdue


@clock.travel(MONDAY_10, tick=False)
def test_the_inbox_api_lists_and_marks_read(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = _dispatched(loop, small_city)
    collect()
    client = client_for(loop["street"])
    inbox = client.get("/api/notifications/").json()
    assert inbox["unread"] == 1
    [item] = inbox["items"]
    assert (item["kind"], item["case"], item["read"]) == ("assigned", case_id, False)
    assert item["title"] == f"新派遣案件 #{case_id}"
    # Someone else's item is not there for them.
    assert (
        client_for(loop["district"]).post(f"/api/notifications/{item['id']}/read/").status_code
        == 404
    )
    after = client.post(f"/api/notifications/{item['id']}/read/").json()
    assert after["unread"] == 0 and after["items"][0]["read"] is True
    english = client.get("/api/notifications/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["items"][0]["title"].endswith(f"#{case_id}")


def test_a_user_sets_how_they_are_told(loop: dict[str, User]) -> None:
    client = client_for(loop["inspector"])
    assert client.get("/api/notifications/preferences/").json() == {
        "email": True, "sms": False, "phone": "", "closed": False
    }  # fmt: skip
    refused = client.put("/api/notifications/preferences/", {"sms": True}, format="json")
    assert refused.status_code == 400 and "phone" in refused.json()
    changed = client.put(
        "/api/notifications/preferences/",
        {"sms": True, "phone": "13800000000", "closed": True},
        format="json",
    )
    assert changed.status_code == 200
    mine = Preference.objects.get(user=loop["inspector"])
    assert (mine.sms, mine.phone, mine.closed, mine.email) == (True, "13800000000", True, True)
