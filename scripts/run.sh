#!/usr/bin/env bash
# `make run`: set up; on an empty database load a city (CITY_DIR=… its own files, else the
# demo city with its users); on a database that holds a city, load nothing; serve on :8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

log() { printf '\033[1m[run]\033[0m %s\n' "$*"; }
if [[ -n "${CITY_DIR:-}" ]]; then
  log "first run: the city's files in $CITY_DIR (only into an empty database)"
  .venv/bin/python manage.py start_city --city-dir "$CITY_DIR"
else
  log "first run: the demo city and its first month of history (only into an empty database)"
  .venv/bin/python manage.py start_city --demo-scale "${GRIDMGMT_DEMO_SCALE:-0.01}" \
    --history-days "${GRIDMGMT_DEMO_HISTORY_DAYS:-30}" --history-scale "${GRIDMGMT_DEMO_HISTORY_SCALE:-0.01}"
fi
host=${GRIDMGMT_HOST:-127.0.0.1}
port=${GRIDMGMT_PORT:-8000}
# The SLA worker chases deadlines beside the server and stops with it. It survives a lost
# database or Redis by itself; should it exit all the same, it is started again, after a
# pause that doubles (up to a minute) while it keeps dying within a minute of its start.
supervise_worker() {
  local child="" pause=1 started status
  trap 'kill "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
  while true; do
    started=$SECONDS
    .venv/bin/python manage.py "${1:-run_sla_worker}" &
    child=$!
    status=0
    wait "$child" || status=$?
    if (( SECONDS - started > 60 )); then pause=1; fi
    log "${1:-run_sla_worker} exited (status $status); starting it again in ${pause}s"
    sleep "$pause" & wait $!
    pause=$(( pause * 2 > 60 ? 60 : pause * 2 ))
  done
}
log "starting the SLA worker (deadline warnings, overdue escalation), supervised"
supervise_worker &
worker=$!
# Notifications (inbox, e-mail, SMS) and webhooks: docs/notifications.md, docs/exchange.md.
supervise_worker run_delivery_worker &
delivery=$!
trap 'kill "$worker" "$delivery" 2>/dev/null; wait "$worker" "$delivery" 2>/dev/null || true' EXIT
log "serving on http://$host:$port/ (admin: /admin/, API docs: /api/docs/)"
# One process per core (GRIDMGMT_WORKERS); live events cross between them through Redis.
# Per-message deflate is off: live events are a few hundred bytes of JSON, and
# compressing each one for every map client cost more time than it saved on a LAN
# (bench/fanout_bench.py, docs/performance.md).
.venv/bin/uvicorn gridmgmt.asgi:application --host "$host" --port "$port" \
  --workers "${GRIDMGMT_WORKERS:-2}" --ws-per-message-deflate false
