"""The routing stamp also changes with the stage limits and the working calendar.

dispatch.reference keeps a per-process copy of what the intake reads for every report —
the catalogue, the stage limits (环节时限) and the calendar's days — behind the same stamp
as the compiled routing rules (0007): one read of the stamp tells whether any of them
changed. The catalogue bumps it already; this adds the two other tables, with the same
statement-level trigger function, so that any statement on them (admin, import of a
year's holidays, a command, raw SQL) is seen by the next report of every process.
"""

from django.db import migrations

TABLES = ("dispatch_stagelimit", "dispatch_calendarday")

FORWARD = [
    f"""
    CREATE TRIGGER {table}_routing_stamp
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION dispatch_routing_stamp_bump()
    """
    for table in TABLES
]

BACKWARD = [f"DROP TRIGGER {table}_routing_stamp ON {table}" for table in TABLES]


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0013_rollup_logs")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
