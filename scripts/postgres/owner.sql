-- Hands a database made by an earlier set-up (everything owned by the application
-- role) to the owner role: the database, the public schema if the application owns it,
-- and every table, view, sequence and function of the application's in it. Run by
-- scripts/setup.sh as the superuser, in the database, with the variables app and owner;
-- the `migrate` that follows applies the application's grants (audit/roles.py).
-- scripts/setup.sh runs it once, while the database still belongs to the application; run
-- again it would also take back the base layers, which the next `migrate` returns.
SELECT set_config('gridmgmt.app_role', :'app', false) AS app_role,
       set_config('gridmgmt.owner_role', :'owner', false) AS owner_role \gset
ALTER DATABASE :"DBNAME" OWNER TO :"owner";
DO $$
DECLARE
    app regrole := current_setting('gridmgmt.app_role')::regrole;
    owner text := current_setting('gridmgmt.owner_role');
    r record;
BEGIN
    IF (SELECT nspowner FROM pg_namespace WHERE nspname = 'public') = app THEN
        EXECUTE format('ALTER SCHEMA public OWNER TO %I', owner);
    END IF;
    -- Tables first: their indexes and the sequences of their id columns follow them.
    FOR r IN
        SELECT c.oid::regclass::text AS name, c.relkind
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relowner = app AND c.relkind IN ('r', 'p', 'v', 'm')
    LOOP
        EXECUTE format(
            CASE r.relkind WHEN 'm' THEN 'ALTER MATERIALIZED VIEW %s OWNER TO %I'
                           WHEN 'v' THEN 'ALTER VIEW %s OWNER TO %I'
                           ELSE 'ALTER TABLE %s OWNER TO %I' END,
            r.name, owner);
    END LOOP;
    FOR r IN
        SELECT c.oid::regclass::text AS name
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relowner = app AND c.relkind = 'S'
    LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', r.name, owner);
    END LOOP;
    FOR r IN
        SELECT p.oid::regprocedure::text AS name
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proowner = app
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.name, owner);
    END LOOP;
END
$$;
