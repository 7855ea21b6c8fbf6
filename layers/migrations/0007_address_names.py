# The road names of the standard addresses (layers_addressname), for hotline geocoding's
# first candidates (incidents.geocoding): a few thousand names matched by trigram, then
# each name's addresses through a B-tree range of search_text, instead of a trigram
# index scan over a million addresses.
#
# A road name is the start of an address's normal form (search_text) up to its first
# number word: "某某区 某某大道 东 438 某某花园 7栋" → "某某区 某某大道 东". An address
# without a number word has none. The table holds each name with its number of
# addresses, kept by triggers for every writer (the import's COPY and INSERT … SELECT
# statement by statement, saves and edits row by row, TRUNCATE), and filled here.

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

NAMES = """
CREATE FUNCTION layers_address_road(search_text text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN left(search_text, NULLIF(regexp_instr(search_text, ' [0-9]'), 0) - 1);

CREATE TABLE layers_addressname (
    name text PRIMARY KEY,
    addresses integer NOT NULL CHECK (addresses > 0)
);
CREATE INDEX layers_addressname_trgm ON layers_addressname USING gin (name gin_trgm_ops);

-- Counts added and taken away in name order, so that concurrent writers lock the
-- rows they share in the same order.
CREATE FUNCTION layers_addressname_add(names text[], counts integer[]) RETURNS void
    LANGUAGE sql AS $$
    INSERT INTO layers_addressname AS n (name, addresses)
    SELECT name, count FROM unnest(names, counts) AS c(name, count) ORDER BY name
    ON CONFLICT (name) DO UPDATE SET addresses = n.addresses + EXCLUDED.addresses;
$$;
CREATE FUNCTION layers_addressname_remove(names text[], counts integer[]) RETURNS void
    LANGUAGE sql AS $$
    WITH taken AS (
        UPDATE layers_addressname n SET addresses = n.addresses - c.count
        FROM (SELECT * FROM unnest(names, counts) AS c(name, count) ORDER BY name) c
        WHERE n.name = c.name AND n.addresses > c.count
        RETURNING n.name
    )
    DELETE FROM layers_addressname n
    WHERE n.name = ANY(names) AND n.name NOT IN (SELECT name FROM taken);
$$;

CREATE FUNCTION layers_address_names_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM layers_addressname_add(array_agg(name), array_agg(count))
    FROM (SELECT layers_address_road(search_text) AS name, count(*)::integer AS count
          FROM new_rows GROUP BY 1) c
    WHERE name IS NOT NULL HAVING count(*) > 0;
    RETURN NULL;
END $$;
CREATE FUNCTION layers_address_names_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM layers_addressname_remove(array_agg(name), array_agg(count))
    FROM (SELECT layers_address_road(search_text) AS name, count(*)::integer AS count
          FROM old_rows GROUP BY 1) c
    WHERE name IS NOT NULL HAVING count(*) > 0;
    RETURN NULL;
END $$;
CREATE FUNCTION layers_address_names_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before text := layers_address_road(OLD.search_text);
    after text := layers_address_road(NEW.search_text);
BEGIN
    IF before IS DISTINCT FROM after THEN
        IF before IS NOT NULL THEN
            PERFORM layers_addressname_remove(ARRAY[before], ARRAY[1]);
        END IF;
        IF after IS NOT NULL THEN
            PERFORM layers_addressname_add(ARRAY[after], ARRAY[1]);
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE FUNCTION layers_address_names_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE layers_addressname;
    RETURN NULL;
END $$;

CREATE TRIGGER address_names_inserted AFTER INSERT ON layers_address
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION layers_address_names_inserted();
CREATE TRIGGER address_names_deleted AFTER DELETE ON layers_address
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION layers_address_names_deleted();
-- Row by row, and only for a changed text: a statement trigger cannot name columns, and
-- placement updates rewrite whole layers without touching the text.
CREATE TRIGGER address_names_updated AFTER UPDATE OF search_text ON layers_address
    FOR EACH ROW WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text)
    EXECUTE FUNCTION layers_address_names_updated();
CREATE TRIGGER address_names_truncated AFTER TRUNCATE ON layers_address
    FOR EACH STATEMENT EXECUTE FUNCTION layers_address_names_truncated();

INSERT INTO layers_addressname (name, addresses)
SELECT name, count(*) FROM (
    SELECT layers_address_road(search_text) AS name FROM layers_address
) a WHERE name IS NOT NULL GROUP BY name;
"""

DROP_NAMES = """
DROP TRIGGER address_names_inserted ON layers_address;
DROP TRIGGER address_names_deleted ON layers_address;
DROP TRIGGER address_names_updated ON layers_address;
DROP TRIGGER address_names_truncated ON layers_address;
DROP FUNCTION layers_address_names_inserted(), layers_address_names_deleted(),
    layers_address_names_updated(), layers_address_names_truncated(),
    layers_addressname_add(text[], integer[]), layers_addressname_remove(text[], integer[]);
DROP TABLE layers_addressname;
DROP FUNCTION layers_address_road(text);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("layers", "0006_component_unit_references"),
    ]

    operations = [
        TrigramExtension(),
        migrations.AddIndex(
            model_name="address",
            index=models.Index(
                fields=["search_text"], name="address_search_road", opclasses=["text_pattern_ops"]
            ),
        ),
        migrations.RunSQL(NAMES, DROP_NAMES),
    ]
