# Sightline. `make run` serves the marketplace on embedded defaults; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/sightline
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
UP_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/sightline)
UP_BROKER_URL ?= $(or $(CELERY_BROKER_URL),redis://127.0.0.1:6379/0)

.PHONY: run test fuzz lint up services install install-dev clean

$(VENV)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

## run: install, migrate, load demo data and serve http://127.0.0.1:8000 (SQLite, tasks in-process)
run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

## services: make sure PostgreSQL and Redis are up (start or install them where possible)
services:
	scripts/ensure-services
	scripts/ensure-browser

## test: the whole suite on PostgreSQL, with real Celery workers on Redis; then the smoke set
## on SQLite as `make run` uses it (a fresh file, tasks in-process, no broker: tests_sqlite/)
test: $(VENV)/.dev services
	DJANGO_ENV=test DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
		$(BIN)/pytest $(PYTEST_ARGS)
	mkdir -p var && rm -f var/test-sqlite.sqlite3
	DJANGO_ENV=development DATABASE_URL=sqlite:///$(abspath var)/test-sqlite.sqlite3 \
		CELERY_BROKER_URL= $(BIN)/pytest -p no:cacheprovider tests_sqlite

## fuzz: the fuzz suite only, with a large budget (FUZZ_EXAMPLES per test); prints the cases tried
FUZZ_EXAMPLES ?= 600
fuzz: $(VENV)/.dev services
	DJANGO_ENV=test DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
		FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -m fuzz --timeout=0 $(PYTEST_ARGS)

## lint: ruff (lint and format check) and mypy with django-stubs
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_ENV=test $(BIN)/mypy .

## up: the full stack from the Procfile under supervisord (deploy/supervisord.conf): gunicorn, a
## worker per queue, beat; each restarted when it dies, logs in var/log/
up: $(VENV)/.runtime services deploy/supervisord.conf
	psql "$(UP_DATABASE_URL)" -c 'select 1' >/dev/null 2>&1 || \
		createdb -h 127.0.0.1 -U postgres "$(notdir $(UP_DATABASE_URL))"
	DATABASE_URL=$(UP_DATABASE_URL) CELERY_BROKER_URL=$(UP_BROKER_URL) \
		$(BIN)/python manage.py migrate --noinput
	DATABASE_URL=$(UP_DATABASE_URL) CELERY_BROKER_URL=$(UP_BROKER_URL) \
		$(BIN)/python manage.py collectstatic --noinput -v0
	mkdir -p var/log var/run
	DATABASE_URL=$(UP_DATABASE_URL) CELERY_BROKER_URL=$(UP_BROKER_URL) \
		$(BIN)/supervisord -n -c deploy/supervisord.conf

# The supervisord programs are generated from the Procfile (the one list of processes).
deploy/supervisord.conf: Procfile scripts/supervisord_conf.py
	$(BIN)/python scripts/supervisord_conf.py > $@.tmp && mv $@.tmp $@

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
