"""The services the set-up provides: PostGIS with pg_trgm in a UTF-8 database, and the
Redis channel layer the live map will use."""

import asyncio

from channels.layers import get_channel_layer
from django.db import connection


def test_the_database_is_utf8_with_postgis_and_trigrams(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension")
        extensions = {name for (name,) in cursor.fetchall()}
        cursor.execute("SHOW server_encoding")
        encoding = cursor.fetchone()[0]
        # Chinese characters must count as word characters for trigram matching
        # (hotline address search): true in a UTF-8 locale such as C.UTF-8, not in C.
        cursor.execute("SELECT similarity('广州市天河区天河路', '天河区天河路')")
        similarity = cursor.fetchone()[0]
    assert {"postgis", "pg_trgm"} <= extensions
    assert encoding == "UTF8"
    assert similarity > 0.3  # 0 where Chinese characters make no trigrams


def test_the_channel_layer_round_trips_a_message_through_redis() -> None:
    async def round_trip() -> dict[str, object]:
        layer = get_channel_layer()
        assert layer is not None
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "case.changed", "seq": 1})
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    assert asyncio.run(round_trip()) == {"type": "case.changed", "seq": 1}
