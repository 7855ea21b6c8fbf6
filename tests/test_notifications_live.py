"""The inbox updates live: a person told something gets its unread count on the live
socket they already have open (map_ui.live: the consumer's inbox group)."""

from __future__ import annotations

import time

from django.contrib.auth.models import User

from incidents.outbox import publisher
from layers.models import Area
from notifications.collect import collect
from tests.loop import act
from tests.test_live import committed_report, live, own_channel_layer, server  # noqa: F401


def test_the_inbox_count_arrives_on_the_live_socket(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    server: str,  # noqa: F811
) -> None:
    with live(server, loop["street"]) as street, live(server, loop["city"]) as city:
        time.sleep(0.3)  # the resumes are answered
        case_id = committed_report(loop["inspector"], small_city)
        assert act(loop["street"], case_id, "file").status_code == 200
        assert act(loop["street"], case_id, "dispatch").status_code == 200
        assert collect() == 3
        publisher.flush()
        told = [m for m in street.drain() if m["type"] == "inbox"]
        assert told == [{"type": "inbox", "unread": 1}]
        # The city centre sees the case on its map, but nothing awaits it.
        seen = city.drain(quiet=0.5)
        assert [m["type"] for m in seen] == ["event"] * 3
