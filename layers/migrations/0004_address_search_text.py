# The geocoder's normal form of each standard address (layers.addresses) and the trigram
# index that hotline geocoding (incidents.geocoding) searches.

import django.contrib.postgres.indexes
import pyarrow as pa
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

# Rows normalised and written per statement while existing addresses are filled in.
FILL_CHUNK = 50_000


def fill_search_text(apps, schema_editor):
    # The normal form is defined in Python, so existing rows are read, normalised
    # (vectorized) and written back in id ranges; the index is built afterwards.
    from layers.addresses import normalise_addresses

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM layers_address")
        low, high = cursor.fetchone()
        if low is None:
            return
        for start in range(low, high + 1, FILL_CHUNK):
            cursor.execute(
                "SELECT id, text FROM layers_address WHERE id >= %s AND id < %s",
                [start, start + FILL_CHUNK],
            )
            rows = cursor.fetchall()
            if not rows:
                continue
            ids = [row[0] for row in rows]
            normal = normalise_addresses(pa.array([row[1] for row in rows], pa.string()))
            cursor.execute(
                "UPDATE layers_address a SET search_text = n.search_text "
                "FROM unnest(%s::bigint[], %s::text[]) AS n(id, search_text) "
                "WHERE a.id = n.id",
                [ids, normal.to_pylist()],
            )


class Migration(migrations.Migration):

    dependencies = [
        ("layers", "0003_unit_kind_category_duplicates"),
    ]

    operations = [
        # Installed by the set-up's template already; this covers databases made without it.
        TrigramExtension(),
        migrations.AddField(
            model_name="address",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False, verbose_name="检索文本"),
        ),
        migrations.RunPython(fill_search_text, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="address",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["search_text"], name="address_search_trgm", opclasses=["gin_trgm_ops"]
            ),
        ),
    ]
