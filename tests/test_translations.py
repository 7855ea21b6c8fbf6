"""The English interface: the catalogue check that `make test` runs (scripts/translations.py)
finds what is untranslated, fuzzy or mixed, and the role pages rendered in English carry no
Chinese beyond the name of the language switch's other language."""

from __future__ import annotations

import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from layers.models import Area, Unit
from map_ui.pages.roles import PAGES
from tests.cast import opener
from tests.loop import client_for, event_category, report

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import translations

CATALOGUE = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

#: a.py:1
msgid "结案"
msgstr "Close"

#: b.py:2
msgid "派遣"
msgstr ""

#: c.py:3
#, fuzzy
msgid "签收"
msgstr "Sign out"

#: d.py:4
msgid "退回"
msgstr "Return to 街道"

#: e.py:5
msgid "Must be a number."
msgstr ""
"""


def test_the_check_names_each_untranslated_fuzzy_or_mixed_message(tmp_path: Path) -> None:
    po = tmp_path / "django.po"
    po.write_text(CATALOGUE, encoding="utf-8")
    found = translations.problems("en", po)
    assert len(found) == 4
    assert "untranslated: '派遣' b.py:2" in found[0]
    assert "fuzzy" in found[1] and "'签收' c.py:3" in found[1]
    assert "Chinese in the English: '退回'" in found[2]
    assert "untranslated: 'Must be a number.' e.py:5" in found[3]
    # The Chinese catalogue needs only the messages written in English.
    assert translations.problems("zh_Hans", po) == [
        "zh_Hans: fuzzy (check it, then remove the flag): '签收' c.py:3",
        "zh_Hans: untranslated: 'Must be a number.' e.py:5",
    ]


CHINESE = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]+")
ROLE_PAGES = [(opener(page.roles), page.name) for page in PAGES]


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


@pytest.mark.parametrize(("username", "name"), ROLE_PAGES)
def test_role_pages_in_english_hold_no_chinese(
    loop: dict[str, User], username: str, name: str
) -> None:
    # The city's data, named in English by its loader.
    Area.objects.update(name_en="Area")
    Unit.objects.update(name_en="Unit")
    client = Client()
    client.force_login(loop[username])
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    response = client.get(reverse(f"map_ui:{name}"))
    assert response.status_code == 200 and response["Content-Language"] == "en"
    html = response.content.decode()
    # The switch names the other language in that language, as language menus do.
    html = html.replace(">简体中文<", "><")
    config = re.search(
        r'<script id="page-config" type="application/json">(.*?)</script>', html, re.S
    )
    texts = [html] + (strings(json.loads(config.group(1))) if config else [])
    found = sorted({m.group(0) for text in texts for m in CHINESE.finditer(text)})
    assert found == []


def test_an_error_built_from_parts_is_in_one_language(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    """A report outside every cell: the message of the placement inside the API's error
    is in the user's language too, not English inside Chinese (or the reverse)."""
    for language, other in (("en", CHINESE), ("zh-hans", re.compile(r"[A-Za-z]{3,}"))):
        client = client_for(loop["inspector"])
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        body = {"client_uuid": str(uuid.uuid4()), "category": event_category("0101").pk}
        body |= {"description": "x", "lon": 1.0, "lat": 1.0, "datum": "wgs84"}
        response = client.post("/api/cases/reports/", body, format="multipart")
        assert response.status_code == 400, response.content
        detail = response.json()["detail"]
        assert other.findall(detail) == [], detail


def test_a_case_names_its_category_in_the_users_language(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = report(loop["inspector"], small_city).json()["case"]["id"]
    category = event_category("0101")
    for language, expected in (("en", category.name_en), ("zh-hans", category.name)):
        client = client_for(loop["street"])
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        detail = client.get(f"/api/cases/{case_id}/").json()
        assert detail["category"]["name"] == expected
    assert category.name_en and category.name_en != category.name
