#!/usr/bin/env bash
# `make test`: the same set-up as `make run`, then every check; any finding fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

step() { printf '\033[1m[test]\033[0m %s\n' "$*"; }
step "migrations are up to date"
.venv/bin/python manage.py makemigrations --check --dry-run
step "ruff lint"
.venv/bin/ruff check .
step "ruff format"
.venv/bin/ruff format --check .
step "mypy"
.venv/bin/mypy .
step "eslint (browser code)"
node_modules/.bin/eslint
step "translations: every message translated, none fuzzy (scripts/translations.py)"
.venv/bin/python scripts/translations.py
step "pytest"
.venv/bin/pytest "$@"
