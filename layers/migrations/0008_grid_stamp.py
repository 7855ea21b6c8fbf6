# The grid stamp (layers_gridstamp): one row whose value changes in every transaction
# that writes areas or their pieces, so that a server process keeping a copy of the grid
# (layers.gridcache, for the locate endpoint) can tell with one cheap read whether its
# copy is current.
#
# Statement triggers on both tables, for every writer: saves and edits (also
# QuerySet.update(), which sends no signal), the import's statements, deletes and
# TRUNCATE. The value is taken from a sequence, which never hands out a number twice: a
# transaction rolled back leaves the row as it was, and the next change gets a number
# never seen before (a counter would come back to a value a copy may already carry).
#
# Once a transaction: an import saves areas one by one, and updating the same row
# thousands of times in one transaction leaves a chain of versions every update must
# walk. A setting local to the transaction remembers the bump (a savepoint rolled back
# forgets it along with the bump). The row stays locked until the transaction ends, so
# transactions writing areas commit one after another.

from django.db import migrations

STAMP = """
CREATE SEQUENCE layers_gridstamp_seq;
CREATE TABLE layers_gridstamp (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    stamp bigint NOT NULL
);
INSERT INTO layers_gridstamp (stamp) VALUES (nextval('layers_gridstamp_seq'));

CREATE FUNCTION layers_grid_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('layers.grid_stamped', true) IS DISTINCT FROM 'yes' THEN
        UPDATE layers_gridstamp SET stamp = nextval('layers_gridstamp_seq');
        PERFORM set_config('layers.grid_stamped', 'yes', true);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER area_grid_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON layers_area FOR EACH STATEMENT EXECUTE FUNCTION layers_grid_changed();
CREATE TRIGGER areapiece_grid_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON layers_areapiece FOR EACH STATEMENT EXECUTE FUNCTION layers_grid_changed();
"""

DROP_STAMP = """
DROP TRIGGER area_grid_changed ON layers_area;
DROP TRIGGER areapiece_grid_changed ON layers_areapiece;
DROP FUNCTION layers_grid_changed();
DROP TABLE layers_gridstamp;
DROP SEQUENCE layers_gridstamp_seq;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("layers", "0007_address_names"),
    ]

    operations = [migrations.RunSQL(STAMP, DROP_STAMP)]
