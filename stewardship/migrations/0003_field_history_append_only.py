from django.db import migrations

# The field-level history of base records is evidence like the case history: the database
# refuses to change or delete its rows, whatever code tries (audit/roles.py also keeps the
# application role to SELECT and INSERT on it).
APPEND_ONLY = """
CREATE FUNCTION stewardship_history_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'field history is append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER stewardship_fieldchange_append_only
    BEFORE UPDATE OR DELETE ON stewardship_fieldchange
    FOR EACH STATEMENT EXECUTE FUNCTION stewardship_history_append_only();
"""
DROP = """
DROP TRIGGER stewardship_fieldchange_append_only ON stewardship_fieldchange;
DROP FUNCTION stewardship_history_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("stewardship", "0002_import_id_range")]
    operations = [migrations.RunSQL(APPEND_ONLY, DROP)]
