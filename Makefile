# playlist2vec — the two quickstart commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000
SAMPLE_PLAYLISTS ?= 3000
export RECSYS_VAR_DIR ?= $(CURDIR)/var

.PHONY: run test test-fast lint install system-deps bench clean help

help:
	@echo "make run   - set up, load the sample, train, promote and serve at http://$(HOST):$(PORT)"
	@echo "make test  - set up and run the whole test-suite (SQLite and PostgreSQL)"
	@echo "make lint  - ruff"
	@echo "make bench - benchmarks (see docs/benchmarks.md)"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# PostgreSQL server binaries for the database tests (Debian package); only when missing.
system-deps:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing PostgreSQL server binaries"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	fi

run: install
	$(PY) -m recsys db upgrade
	$(PY) -m recsys sample --playlists $(SAMPLE_PLAYLISTS) --if-empty
	$(PY) -m recsys train --promote --if-no-model
	$(PY) -m recsys serve --host $(HOST) --port $(PORT)

test: install system-deps
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow and not postgres"

lint: install
	$(PY) -m ruff check recsys tests bench migrations wsgi.py

bench: install
	$(PY) bench/import_speed.py

clean:
	rm -rf var/ .pytest_cache .ruff_cache
