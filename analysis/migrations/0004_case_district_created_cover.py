"""An index of incidents_case by district, then time, carrying the columns the analysis
views group a district's cases by (cell, community, street, category): a district's
hot spots, top categories per street or community and recurring spots read its cases of
the period as one index-only range scan instead of filtering every case of the city
along analysis_case_created_cover (0.1 s a statement at 1,000,000 cases, measured in
docs/performance.md, "Run 6"). Kept here, beside the queries it serves."""

from django.db import migrations

CREATE = """
CREATE INDEX IF NOT EXISTS analysis_case_district_created
ON incidents_case (district_id, created_at)
INCLUDE (cell_id, community_id, street_id, category_id)
"""


class Migration(migrations.Migration):
    dependencies = [("analysis", "0003_case_cell_category_index")]

    operations = [
        migrations.RunSQL(CREATE, "DROP INDEX IF EXISTS analysis_case_district_created"),
    ]
