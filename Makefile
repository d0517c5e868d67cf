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
	@echo "make test-fast - the tests without the slow and PostgreSQL ones"
	@echo "make install - create .venv and install the requirements"
	@echo "make bench - the import benchmark (every benchmark's command: docs/benchmarks.md)"
	@echo "make clean - delete var/ (databases, models, logs) and caches"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# Debian packages for the tests, only when missing: PostgreSQL server binaries (database tests;
# pg_dump/pg_restore for the backup drill)
# and Chromium (the dashboard's browser test drives it with Playwright; no browser download).
system-deps:
	@missing=""; \
	if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		missing="$$missing postgresql"; \
	elif ! command -v pg_dump >/dev/null && ! ls /usr/lib/postgresql/*/bin/pg_dump >/dev/null 2>&1; then \
		missing="$$missing postgresql-client"; \
	fi; \
	if [ ! -x /usr/bin/chromium ]; then missing="$$missing chromium"; fi; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

run: install
	$(PY) -m recsys db upgrade
	$(PY) -m recsys sample --playlists $(SAMPLE_PLAYLISTS) --if-empty
	$(PY) -m recsys train --promote --if-no-model
	@mkdir -p "$(RECSYS_VAR_DIR)"; \
	if [ -z "$$RECSYS_ADMIN_PASSWORD" ] && [ ! -s "$(RECSYS_VAR_DIR)/admin_password" ]; then \
		(umask 077; $(PY) -c "import secrets; print(secrets.token_urlsafe(12))" \
			> "$(RECSYS_VAR_DIR)/admin_password"); \
	fi; \
	if [ -z "$$SECRET_KEY" ] && [ ! -s "$(RECSYS_VAR_DIR)/secret_key" ]; then \
		(umask 077; $(PY) -c "import secrets; print(secrets.token_hex(32))" \
			> "$(RECSYS_VAR_DIR)/secret_key"); \
	fi; \
	if [ -n "$$RECSYS_ADMIN_PASSWORD" ]; then where="from RECSYS_ADMIN_PASSWORD"; \
	else where="in $(patsubst $(CURDIR)/%,%,$(RECSYS_VAR_DIR))/admin_password"; fi; \
	echo "admin dashboard: http://$(HOST):$(PORT)/admin/ user $${RECSYS_ADMIN_USER:-admin}, password $$where"
	RECSYS_ADMIN_PASSWORD="$${RECSYS_ADMIN_PASSWORD:-$$(cat "$(RECSYS_VAR_DIR)/admin_password")}" \
	SECRET_KEY="$${SECRET_KEY:-$$(cat "$(RECSYS_VAR_DIR)/secret_key")}" \
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
