# Two commands do all setup on a fresh machine: `make run` and `make test`.
HOST ?= 127.0.0.1
PORT ?= 8000
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck pytest pytest-scaleout recorder assets clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml ingest/_values.c | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.runtime
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The recorder pages load: one minified file (static/replay/recorder-entry.js says what
# goes in it), served as /static/replay/recorder.js. Guarded so that a page that loads
# it twice runs it once.
RECORDER := build/static/replay/recorder.js

$(RECORDER): node_modules/.installed $(wildcard static/replay/*.js)
	node_modules/.bin/esbuild static/replay/recorder-entry.js --bundle --minify \
		--format=iife --outfile=$@ --log-level=warning \
		'--banner:js=if (!(window.replay && window.replay.flush)) {' '--footer:js=}'

recorder: $(RECORDER)

# Static files under digest names with gzip copies, as the server serves them
# (replay/staticfiles.py): collected again when any of them changed.
COLLECTED := build/collected/staticfiles.json

$(COLLECTED): $(RECORDER) $(VENV)/.runtime node_modules/.installed $(shell find static -type f)
	$(BIN)/python manage.py collectstatic --noinput --clear --verbosity 0

assets: $(COLLECTED)

run: $(VENV)/.runtime node_modules/.installed $(COLLECTED)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py bootstrap --url http://$(HOST):$(PORT)
	$(BIN)/python -m ingest.server -b $(HOST) -p $(PORT) replay.asgi:application

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy .

# The scale-out configuration: PostgreSQL, Redis as channel layer, several Daphne
# processes. The tests marked scaleout (ingest, faults, takeover) run again on it.
SCALEOUT_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/replay
SCALEOUT_REDIS_URL ?= redis://127.0.0.1:6379/7

# Two workers, each test file whole on one of them (its browser and servers are shared
# by its tests). In the scale-out run each worker has a PostgreSQL test database and a
# Redis database of its own (tests/conftest.py: the URL's number, then the next).
pytest: $(VENV)/.dev node_modules/.installed $(COLLECTED)
	$(BIN)/pytest -n 2 --dist loadfile

pytest-scaleout: $(VENV)/.dev node_modules/.installed $(COLLECTED)
	REPLAY_DATABASE_URL=$(SCALEOUT_DATABASE_URL) REPLAY_REDIS_URL=$(SCALEOUT_REDIS_URL) \
		$(BIN)/pytest -m "scaleout or redis" -n 2 --dist loadfile

test: lint typecheck pytest pytest-scaleout

clean:
	rm -rf $(VENV) node_modules build .pytest_cache .mypy_cache .ruff_cache
