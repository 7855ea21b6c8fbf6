"""Open311 keys and client applications: issued in the admin or by issue_open311_key,
shown once, stored as a hash, revoked; the application's service user; the admin pages
of the service attributes."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from incidents.models import Channel
from layers.models import Area, Role, Staff, Unit, UnitKind
from open311.clients import client_for_key
from open311.errors import Forbidden
from open311.models import ApiKey, ClientApplication, Datatype, ServiceAttribute
from tests.loop import event_category

KEY = re.compile(r"o311_[A-Za-z0-9_-]{40}")


def hotline_unit() -> Unit:
    return Unit.objects.get(kind=UnitKind.HOTLINE)


def test_an_application_added_in_the_admin_gets_a_key_shown_once(
    admin_client: Client, cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    added = admin_client.post(
        reverse("admin:open311_clientapplication_add"),
        {
            "name": "天河随手拍",
            "contact": "李工 020-12345678",
            "channel": Channel.WECHAT,
            "scope": small_city["440106"].pk,
            "unit": hotline_unit().pk,
            "keys-TOTAL_FORMS": "0",
            "keys-INITIAL_FORMS": "0",
        },
    )
    app = ClientApplication.objects.get(name="天河随手拍")
    # On to its first key, the application chosen already.
    assert added["Location"] == f"{reverse('admin:open311_apikey_add')}?application={app.pk}"
    form = admin_client.get(added["Location"]).content.decode()
    assert f'<option value="{app.pk}" selected>' in form

    page = admin_client.post(
        reverse("admin:open311_apikey_add"), {"application": app.pk, "label": "正式环境"}
    )
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    html = page.content.decode()
    (secret,) = set(KEY.findall(html))
    assert "只显示这一次" in html
    key = ApiKey.objects.get(application=app)
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.prefix == secret[:12] and key.label == "正式环境"
    assert key.created_by == User.objects.get(username="admin")
    assert client_for_key(secret) == app
    # Nowhere in the database, nowhere on the key's own page.
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM open311_apikey")
        assert secret not in repr(cursor.fetchall())
    change = admin_client.get(reverse("admin:open311_apikey_change", args=[key.pk]))
    assert change.status_code == 200 and secret not in change.content.decode()
    listing = admin_client.get(reverse("admin:open311_clientapplication_change", args=[app.pk]))
    assert key.prefix in listing.content.decode() and secret not in listing.content.decode()


def test_the_service_user_is_a_hotline_post_that_cannot_sign_in(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    out = io.StringIO()
    call_command("issue_open311_key", "--name", "demo", stdout=out)
    app = ClientApplication.objects.select_related("user", "scope").get(name="demo")
    assert app.user is not None and app.user.username == f"open311-{app.pk}"
    assert not app.user.has_usable_password() and not app.user.is_staff
    staff = Staff.objects.get(user=app.user)
    assert (staff.role, staff.unit) == (Role.HOTLINE, hotline_unit())
    assert (app.scope.code, app.channel) == ("440100", Channel.WEB)
    assert not Client().login(username=app.user.username, password="")


def test_the_command_issues_a_key_per_run_and_prints_it(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    out = io.StringIO()
    call_command(
        "issue_open311_key",
        "--name",
        "demo",
        "--scope",
        "440104",
        "--channel",
        "wechat",
        stdout=out,
    )
    first = out.getvalue()
    assert "440104 越秀区" in first and "created" in first
    (secret,) = KEY.findall(first)
    quiet = io.StringIO()
    call_command("issue_open311_key", "--name", "demo", "-q", stdout=quiet)
    second = quiet.getvalue().strip()
    assert KEY.fullmatch(second) and second != secret
    assert ClientApplication.objects.count() == 1
    assert ApiKey.objects.filter(application__name="demo").count() == 2
    assert client_for_key(second).scope.code == "440104"
    with pytest.raises(CommandError, match="123"):
        call_command("issue_open311_key", "--name", "other", "--scope", "123")


def test_revoking_in_the_admin_stops_the_key(
    admin_client: Client, cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    out = io.StringIO()
    call_command("issue_open311_key", "--name", "demo", stdout=out)
    (secret,) = KEY.findall(out.getvalue())
    key = ApiKey.objects.get()
    response = admin_client.post(
        reverse("admin:open311_apikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
        follow=True,
    )
    assert "已吊销 1 个密钥" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None
    with pytest.raises(Forbidden):
        client_for_key(secret)
    # Keys and applications are revoked, never deleted.
    assert (
        admin_client.get(reverse("admin:open311_apikey_delete", args=[key.pk])).status_code == 403
    )


def test_the_admin_pages_load_in_chinese(
    admin_client: Client, cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    call_command("issue_open311_key", "--name", "demo", stdout=io.StringIO())
    index = admin_client.get("/admin/").content.decode()
    for name in ("Open311客户端应用", "Open311密钥", "Open311附加字段"):
        assert name in index
    for model in ("clientapplication", "apikey", "serviceattribute"):
        for view in ("changelist", "add"):
            url = reverse(f"admin:open311_{model}_{view}")
            assert admin_client.get(url).status_code == 200, url


def test_a_list_attribute_needs_its_options(
    admin_client: Client, cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    from django.core.management import call_command as run

    run("loaddata", "catalogue", stdout=io.StringIO())
    category = event_category("0101")
    url = reverse("admin:open311_serviceattribute_add")
    base = {
        "category": category.pk,
        "order": "1",
        "code": "kind",
        "description": "种类",
        "datatype": Datatype.SINGLEVALUELIST,
        "required": "on",
        "variable": "on",
    }
    refused = admin_client.post(url, {**base, "choices": ""})
    assert refused.status_code == 200 and "代码=名称" in refused.content.decode()
    reserved = admin_client.post(url, {**base, "code": "component_code", "choices": "a=甲"})
    assert "component_code" in reserved.content.decode()
    assert not ServiceAttribute.objects.exists()
    saved = admin_client.post(url, {**base, "choices": "household=生活垃圾\nbulky = 大件垃圾"})
    assert saved.status_code == 302
    assert ServiceAttribute.objects.get().values() == [
        ("household", "生活垃圾"),
        ("bulky", "大件垃圾"),
    ]
