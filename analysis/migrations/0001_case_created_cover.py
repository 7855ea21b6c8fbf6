"""A covering index of incidents_case for the analysis views that group the cases
reported in a period (hot spots, top categories, recurring spots): an index-only scan
reads ~100 bytes a case instead of the whole row. Measured at 1,000,000 cases: the year
of top categories 1.0 s → 0.41 s (docs/performance.md, Decision analysis). Kept here,
beside the queries it serves; the case model does not know it (RunSQL)."""

from django.db import migrations

CREATE = """
CREATE INDEX IF NOT EXISTS analysis_case_created_cover ON incidents_case (created_at)
INCLUDE (cell_id, community_id, street_id, district_id, category_id, state, geom)
"""


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_hotline_tickets")]

    operations = [
        migrations.RunSQL(CREATE, "DROP INDEX IF EXISTS analysis_case_created_cover"),
    ]
