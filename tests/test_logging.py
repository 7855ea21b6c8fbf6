"""The server's log: a refused request is one warning line, a server error keeps its
traceback (gridmgmt.log)."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_refused_page_is_one_warning_line_without_a_traceback(
    cast: dict[str, User], caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    client.force_login(cast["street"])
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get("/map/hotline/").status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelno == logging.WARNING and record.status_code == 403  # type: ignore[attr-defined]
    assert record.getMessage() == "Forbidden (Permission denied): /map/hotline/"
    assert record.exc_info is None and "Traceback" not in caplog.text


def test_a_server_error_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="django.request"):
        try:
            raise RuntimeError("the database went away")
        except RuntimeError:
            logging.getLogger("django.request").error(
                "Internal Server Error: %s", "/api/cases/", exc_info=True,
                extra={"status_code": 500},
            )  # fmt: skip
    [record] = caplog.records
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert "Traceback" in caplog.text and "the database went away" in caplog.text
