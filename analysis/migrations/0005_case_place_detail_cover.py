"""An index of incidents_case by place (cell, category) and time carrying what the list
of recurring spots shows of each listed place — open or not (state) and the point — and
the district (a district's scope): the second statement of the recurring spots reads a
year's 90,000 cases of the 500 listed places from it without visiting the table (0.7 s
→ 0.1 s at 1,000,000 cases, docs/performance.md "Run 6"). The narrower
analysis_case_cell_category (0003) stays: the first statement scans it whole."""

from django.db import migrations

CREATE = """
CREATE INDEX IF NOT EXISTS analysis_case_place_detail
ON incidents_case (cell_id, category_id, created_at)
INCLUDE (district_id, state, geom)
"""


class Migration(migrations.Migration):
    dependencies = [("analysis", "0004_case_district_created_cover")]

    operations = [
        migrations.RunSQL(CREATE, "DROP INDEX IF EXISTS analysis_case_place_detail"),
    ]
