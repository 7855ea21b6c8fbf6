"""An index of incidents_case by cell, then category, then time: the second statement of
the recurring spots (the open cases and points of the listed places) finds each place's
cases with it, and a count per cell or per (cell, category) is an index-only scan. Kept
here, beside the queries it serves (RunSQL: the case model does not know it)."""

from django.db import migrations

CREATE = """
CREATE INDEX IF NOT EXISTS analysis_case_cell_category
ON incidents_case (cell_id, category_id, created_at)
"""


class Migration(migrations.Migration):
    dependencies = [("analysis", "0002_daily_counts")]

    operations = [
        migrations.RunSQL(CREATE, "DROP INDEX IF EXISTS analysis_case_cell_category"),
    ]
