from django.db import migrations

# The history of a case is evidence: the database itself refuses to change or delete its
# rows, whatever code tries. (TRUNCATE stays possible: the test runner empties tables
# with it, and it is a schema owner's operation, not something the app does.)
APPEND_ONLY = """
CREATE FUNCTION incidents_history_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'case history is append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER incidents_caseevent_append_only
    BEFORE UPDATE OR DELETE ON incidents_caseevent
    FOR EACH STATEMENT EXECUTE FUNCTION incidents_history_append_only();
"""
DROP = """
DROP TRIGGER incidents_caseevent_append_only ON incidents_caseevent;
DROP FUNCTION incidents_history_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [
        migrations.RunSQL(APPEND_ONLY, DROP),
        # Likely duplicates are looked up within metres of a report (incidents.duplicates).
        migrations.RunSQL(
            "CREATE INDEX case_geography ON incidents_case USING gist ((geom::geography))",
            "DROP INDEX case_geography",
        ),
        migrations.RunSQL(
            "INSERT INTO incidents_outboxcounter (id, last_seq) VALUES (1, 0)",
            "DELETE FROM incidents_outboxcounter",
        ),
    ]
