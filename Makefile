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

## test: the whole suite on PostgreSQL, with real Celery workers on Redis
test: $(VENV)/.dev services
	DJANGO_ENV=test DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
		$(BIN)/pytest $(PYTEST_ARGS)

## fuzz: the fuzz suite only, with a large budget (FUZZ_EXAMPLES per test); prints the cases tried
FUZZ_EXAMPLES ?= 5000
fuzz: $(VENV)/.dev services
	DJANGO_ENV=test DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
		FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -m fuzz --timeout=0 $(PYTEST_ARGS)

## lint: ruff (lint and format check) and mypy with django-stubs
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_ENV=test $(BIN)/mypy .

## up: the full stack from the Procfile: gunicorn, a worker per queue, beat
up: $(VENV)/.runtime services
	psql "$(UP_DATABASE_URL)" -c 'select 1' >/dev/null 2>&1 || \
		createdb -h 127.0.0.1 -U postgres "$(notdir $(UP_DATABASE_URL))"
	DATABASE_URL=$(UP_DATABASE_URL) CELERY_BROKER_URL=$(UP_BROKER_URL) \
		$(BIN)/python manage.py migrate --noinput
	DATABASE_URL=$(UP_DATABASE_URL) CELERY_BROKER_URL=$(UP_BROKER_URL) \
		$(BIN)/python manage.py collectstatic --noinput -v0
	DATABASE_URL=$(UP_DATABASE_URL) CELERY_BROKER_URL=$(UP_BROKER_URL) PATH=$(abspath $(BIN)):$$PATH \
		$(BIN)/honcho start -f Procfile

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
