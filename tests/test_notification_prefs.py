"""Notification preferences (issue 16, item 3): per kind of message, in the inbox only or
by e-mail or SMS as well; every message in its recipient's language (a 12345 caller's is
the site's); the hotline's SMS opt-in stored on the case and honoured at closure; the
proposer of base data told how their proposal was decided (issue 15, item 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from gridmgmt import clock
from incidents.models import Case
from layers.models import Area
from notifications.collect import collect
from notifications.delivery import deliver_due
from notifications.models import Kind, Message, Notification, Preference, Transport
from notifications.rules import caller_opted_in
from stewardship import services
from tests.cast import CELLS, centre
from tests.loop import MONDAY_10, act, client_for, photo, report
from tests.test_hotline_tickets import ticket


@pytest.fixture
def sms_file(settings: Settings, tmp_path: Path) -> Path:
    settings.NOTIFY_SMS_TRANSPORT = "notifications.transports.FileSms"
    settings.NOTIFY_SMS_FILE = str(tmp_path / "sms.jsonl")
    return tmp_path / "sms.jsonl"


def _dispatched(loop: dict[str, User], city: dict[str, Area]) -> int:
    case_id = int(report(loop["inspector"], city).json()["case"]["id"])
    assert act(loop["street"], case_id, "file").status_code == 200
    assert act(loop["street"], case_id, "dispatch").status_code == 200
    return case_id


def _with_email(user: User, address: str) -> User:
    user.email = address
    user.save(update_fields=["email"])
    return user


@clock.travel(MONDAY_10, tick=False)
def test_an_english_speaking_user_gets_an_english_message(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    street = _with_email(loop["street"], "street@example.org")
    Preference.objects.create(user=street, language="en")
    english = _dispatched(loop, small_city)
    collect()
    [message] = Message.objects.filter(case_id=english)
    assert message.subject == f"New case assigned #{english}"
    # The same kind of message to the same person, once they choose Chinese.
    Preference.objects.filter(user=street).update(language="zh-hans")
    chinese = _dispatched(loop, small_city)
    collect()
    [message] = Message.objects.filter(case_id=chinese)
    assert message.subject == f"新派遣案件 #{chinese}"


@clock.travel(MONDAY_10, tick=False)
def test_each_kind_goes_the_way_its_user_chose(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    street = _with_email(loop["street"], "street@example.org")
    Preference.objects.create(
        user=street, phone="13800000000", channels={"assigned": "sms", "warning": "inbox"}
    )
    case_id = _dispatched(loop, small_city)
    collect()
    assert list(Message.objects.filter(case_id=case_id).values_list("transport", "to")) == [
        (Transport.SMS, "13800000000")
    ]
    # In the inbox only: the item, no message.
    Preference.objects.filter(user=street).update(channels={"assigned": "inbox"})
    other = _dispatched(loop, small_city)
    collect()
    assert Notification.objects.filter(case_id=other, user=street, kind=Kind.ASSIGNED).exists()
    assert not Message.objects.filter(case_id=other).exists()


@clock.travel(MONDAY_10, tick=False)
def test_the_callers_sms_opt_in_is_stored_and_honoured_at_closure(
    loop: dict[str, User], small_city: dict[str, Area], sms_file: Path
) -> None:
    asked = ticket(loop["hotline"], small_city, notify_on_close=True, caller_phone="13900000001")
    silent = ticket(loop["hotline"], small_city, caller_phone="13900000002")
    assert caller_opted_in(Case.objects.get(pk=asked["id"]))
    assert not caller_opted_in(Case.objects.get(pk=silent["id"]))
    # An English-speaking operator closes them: the caller still reads Chinese.
    Preference.objects.create(user=loop["street"], language="en")
    for case_id in (asked["id"], silent["id"]):
        street = loop["street"]
        for action in ("file", "dispatch", "sign"):
            assert act(street, case_id, action).status_code == 200
        assert act(street, case_id, "handle", note="已清理", photos=[photo()]).status_code == 200
        assert act(loop["inspector"], case_id, "verify", passed=True).status_code == 200
        assert act(street, case_id, "close").status_code == 200
    collect()
    deliver_due()
    lines = [json.loads(line) for line in sms_file.read_text(encoding="utf-8").splitlines()]
    to_callers = [line for line in lines if line["to"].startswith("139")]
    assert [line["to"] for line in to_callers] == ["13900000001"]
    assert to_callers[0]["text"].startswith(f"您反映的问题已结案 #{asked['id']}")


def test_the_proposer_is_told_of_the_decision_in_the_inbox(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    inspector = _with_email(cast["inspector"], "inspector@example.org")
    Preference.objects.create(user=inspector, channels={"proposal_rejected": "email"})
    made = services.propose(
        user=inspector,
        layer="buildings",
        record=None,
        values={"code": "B9", "name": "岗亭"},
        geom=centre(small_city[CELLS["own"]]),
    )
    services.reject(user=cast["data_admin"], pk=made.pk, reason="已拆除")
    inbox = client_for(inspector).get("/api/notifications/").json()
    assert inbox["unread"] == 1
    [item] = inbox["items"]
    assert (item["kind"], item["proposal"], item["case"]) == ("proposal_rejected", made.pk, None)
    assert item["title"] == f"采集建议被驳回 #{made.pk}"
    [message] = Message.objects.filter(notification_id=item["id"])
    assert (message.transport, message.to) == (Transport.EMAIL, "inspector@example.org")
    assert "驳回原因：已拆除" in message.body
