"""The routing stamp: a number that changes whenever something routing reads changes.

dispatch.routing compiles the routing rules and the units once per process and reads
only this stamp per case; a statement on the rules, the units or the catalogue (admin,
API, a command, a bulk UPDATE, a redraw) gives the stamp a new value from a sequence.
A sequence never hands out a value twice, even when the transaction that drew it rolls
back, so a stamp names exactly one state of the tables.
"""

from django.db import migrations

TABLES = ("dispatch_routingrule", "layers_unit", "layers_category")

FORWARD = [
    "CREATE SEQUENCE dispatch_routing_stamp_seq",
    """
    CREATE TABLE dispatch_routing_stamp (
        id smallint PRIMARY KEY CHECK (id = 1),
        stamp bigint NOT NULL
    )
    """,
    "INSERT INTO dispatch_routing_stamp VALUES (1, nextval('dispatch_routing_stamp_seq'))",
    """
    CREATE FUNCTION dispatch_routing_stamp_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE dispatch_routing_stamp SET stamp = nextval('dispatch_routing_stamp_seq');
        RETURN NULL;
    END $$
    """,
    *(
        f"""
        CREATE TRIGGER {table}_routing_stamp
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION dispatch_routing_stamp_bump()
        """
        for table in TABLES
    ),
]

BACKWARD = [
    *(f"DROP TRIGGER {table}_routing_stamp ON {table}" for table in TABLES),
    "DROP FUNCTION dispatch_routing_stamp_bump()",
    "DROP TABLE dispatch_routing_stamp",
    "DROP SEQUENCE dispatch_routing_stamp_seq",
]


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0006_case_parts_verify_stage"),
        ("layers", "0006_component_unit_references"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
