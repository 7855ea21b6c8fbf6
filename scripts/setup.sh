#!/usr/bin/env bash
# Everything `make run` and `make test` need, on a fresh Debian machine or a second time:
# system packages, PostgreSQL + PostGIS and Redis running, role and databases, the
# virtualenv with the project installed, migrations. Idempotent; a second run only checks.
#
# Existing services: set DATABASE_URL and/or REDIS_URL and the local ones are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

PG_VERSION=15
DB_NAME=gridmgmt
DB_USER=gridmgmt
DB_PASSWORD=gridmgmt
# The role that owns the schema and runs migrations (audit/roles.py, docs/deployment.md);
# the application connects as DB_USER, which cannot tamper with the history and audit.
OWNER_USER=gridmgmt_owner
OWNER_PASSWORD=gridmgmt_owner
TEMPLATE_DB=gridmgmt_template

# --- system packages -------------------------------------------------------------------
# chromium and a CJK font are for browser tests and screenshots; gettext compiles messages;
# wrk is the benchmarks' HTTP load generator.
packages=(python3-venv gdal-bin libgdal-dev redis-server chromium fonts-wqy-microhei gettext wrk
          "postgresql-$PG_VERSION" "postgresql-$PG_VERSION-postgis-3" postgresql-contrib)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js runs the browser code's linter (make test); a Node.js of another source will do.
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi
# python3-venv is only needed when the machine's python3 has no working venv module.
if python3 -c 'import venv, ensurepip' 2>/dev/null; then
  missing=("${missing[@]/python3-venv}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  log "installing system packages: ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- the browser code's lint tools (package.json; nothing of it is served) -------------
npm_stamp=node_modules/.installed-$(sha1sum package-lock.json | cut -c1-12)
if [ ! -f "$npm_stamp" ]; then
  log "installing the browser code's lint tools (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  touch "$npm_stamp"
fi

# --- PostgreSQL + PostGIS --------------------------------------------------------------
if [ -z "${DATABASE_URL:-}" ]; then
  if ! pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" '$1==v && $2=="main"' | grep -q .; then
    log "creating PostgreSQL $PG_VERSION cluster"
    "${SUDO[@]}" pg_createcluster "$PG_VERSION" main --locale C.UTF-8 --encoding UTF8 >/dev/null
  fi
  conf=/etc/postgresql/$PG_VERSION/main/conf.d/gridmgmt.conf
  if ! cmp -s scripts/postgres/gridmgmt.conf "$conf"; then
    log "installing PostgreSQL settings ($conf)"
    "${SUDO[@]}" install -m 644 scripts/postgres/gridmgmt.conf "$conf"
    if pg_lsclusters -h | awk -v v="$PG_VERSION" '$1==v && $2=="main" {print $4}' | grep -q online; then
      "${SUDO[@]}" pg_ctlcluster "$PG_VERSION" main restart
    fi
  fi
  if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1==v && $2=="main" {print $4}' | grep -q online; then
    log "starting PostgreSQL $PG_VERSION"
    "${SUDO[@]}" pg_ctlcluster "$PG_VERSION" main start
  fi
  psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 "$@"; }
  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'")" != 1 ]; then
    log "creating role $DB_USER"
    psql_admin -c "CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
  fi
  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname='$OWNER_USER'")" != 1 ]; then
    log "creating role $OWNER_USER (owns the schema, runs migrations)"
    psql_admin -c "CREATE ROLE $OWNER_USER LOGIN CREATEDB PASSWORD '$OWNER_PASSWORD'"
  fi
  # The owner is a member of the application role, never the reverse: it may then alter
  # the base layers the application owns for its bulk imports (audit/roles.py).
  if [ "$(psql_admin -tAc "SELECT pg_has_role('$OWNER_USER', '$DB_USER', 'MEMBER')")" != t ]; then
    psql_admin -c "GRANT $DB_USER TO $OWNER_USER"
  fi
  # A template with the extensions installed: the application and test databases are
  # copied from it, so the application role never needs to be a superuser.
  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname='$TEMPLATE_DB'")" != 1 ]; then
    log "creating template database $TEMPLATE_DB (postgis, pg_trgm)"
    psql_admin -c "CREATE DATABASE $TEMPLATE_DB OWNER $DB_USER ENCODING 'UTF8' TEMPLATE template0 LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
    psql_admin -d "$TEMPLATE_DB" -c "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS pg_trgm;"
    psql_admin -c "ALTER DATABASE $TEMPLATE_DB IS_TEMPLATE true"
  fi
  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'")" != 1 ]; then
    log "creating database $DB_NAME"
    psql_admin -c "CREATE DATABASE $DB_NAME OWNER $OWNER_USER TEMPLATE $TEMPLATE_DB"
  fi
  # A database made by an earlier set-up belongs to the application role: hand it over
  # (the migrations below then grant the application its share).
  if [ "$(psql_admin -tAc "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname='$DB_NAME'")" != "$OWNER_USER" ]; then
    log "handing database $DB_NAME to the owner role $OWNER_USER"
    psql_admin -d "$DB_NAME" -v app="$DB_USER" -v owner="$OWNER_USER" -f scripts/postgres/owner.sql >/dev/null
  fi
fi

# --- Redis -----------------------------------------------------------------------------
if [ -z "${REDIS_URL:-}" ]; then
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
      --logfile /tmp/gridmgmt-redis.log >/dev/null
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
fi

# --- Python environment ----------------------------------------------------------------
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  log "creating virtualenv and installing the project (first run takes a few minutes)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e '.[dev]'; } \
    > .venv/pip.log 2>&1 || { cat .venv/pip.log; exit 1; }
  rm -f .venv/.installed-*
  touch "$stamp"
fi

log "migrating (as the owner role; then the application's grants)"
.venv/bin/python manage.py migrate --noinput -v 0
.venv/bin/python manage.py collectstatic --noinput -v 0
