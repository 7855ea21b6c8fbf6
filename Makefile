# The two commands of the README, and a few conveniences. Everything goes through
# scripts/, which are safe to run again (a second run only checks and starts).
.PHONY: run test setup demo bench-floor bench-import bench-geocode bench-geocode-http bench-intake bench-tiles bench-fanout bench-patrol bench-analysis faults lint

run:            ## set up everything, load a city into an empty database (CITY_DIR=… or the demo), serve on 127.0.0.1:8000
	CITY_DIR="$(CITY_DIR)" bash scripts/run.sh

test:           ## set up everything, then migrations check, ruff, mypy, ESLint, translations and the whole suite
	bash scripts/test.sh

setup:          ## system packages, PostgreSQL/PostGIS, Redis, virtualenv, migrations
	bash scripts/setup.sh

demo:           ## (re)load the demo city; SCALE=0.01 by default
	bash scripts/setup.sh && .venv/bin/python manage.py load_demo_city --scale $${SCALE:-0.01}

bench-floor:    ## benchmark: the request floor with wrk (bare ASGI, minimal Django, middleware, authenticated GET, lean SQL)
	bash scripts/setup.sh && .venv/bin/python bench/floor_bench.py

bench-import:   ## benchmark: import + place N points from a GeoPackage (N=1000000)
	bash scripts/setup.sh && .venv/bin/python bench/import_bench.py --n $${N:-1000000}

bench-geocode:  ## benchmark: hotline geocoding latency and top-1 accuracy over N addresses
	bash scripts/setup.sh && .venv/bin/python bench/geocode_bench.py --n $${N:-1000000}

bench-geocode-http: ## benchmark: geocode and locate over HTTP (wrk, 8 connections) beside the floor and their lean SQL
	bash scripts/setup.sh && .venv/bin/python bench/geocode_bench.py --n $${N:-1000000} --http

bench-intake:   ## benchmark: inspector reports/s over HTTP (wrk) in a steady state, beside the floor GET and the lean SQL bound
	bash scripts/setup.sh && .venv/bin/python bench/intake_bench.py --duration $${DURATION:-20}

bench-fanout:   ## benchmark: live-map fan-out to 1,000 WebSocket clients, core vs pubsub layer
	bash scripts/setup.sh && .venv/bin/python bench/fanout_bench.py --clients $${CLIENTS:-1000}

bench-tiles:    ## benchmark: vector tile latency p50/p95 beside the same SQL run directly
	bash scripts/setup.sh && .venv/bin/python bench/tile_bench.py

bench-patrol:   ## benchmark: patrol positions/s through the HTTP API (batches) beside a bare COPY
	bash scripts/setup.sh && .venv/bin/python bench/patrol_bench.py --positions $${N:-200000}

bench-analysis: ## benchmark: decision analysis views at 1,000,000 cases, month and year, beside their lean SQL
	bash scripts/setup.sh && .venv/bin/python bench/analysis_bench.py --n $${N:-1000000}

faults:         ## fault kit: own PostgreSQL, Redis and server, broken under load (docs/reliability.md)
	bash scripts/setup.sh && .venv/bin/python -m bench.faults

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy . && node_modules/.bin/eslint
