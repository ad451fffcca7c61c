# Peerlog: `make run` to try it, `make test` to check it. `make help` lists everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PEERLOG_DATA_DIR ?= ./data
# `make run DEMO=0` starts an empty program: no demo data, `serve` says how to make the first admin.
DEMO ?= 1
# Invite links are built from the origin: when only the port is changed, follow it.
ifdef PEERLOG_PORT
export PEERLOG_ORIGIN ?= http://localhost:$(PEERLOG_PORT)
endif

.PHONY: help run test fault lint format messages bench bench-growth bench-peer fuzz screenshots migrations chromium webkit node-tools clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP) ## set up, migrate, fill demo data the first time (DEMO=0: none), serve on http://localhost:8000
	$(BIN)/peerlog migrate
	@if [ "$(DEMO)" != 0 ]; then $(BIN)/peerlog demo --if-empty; fi
	$(BIN)/peerlog serve

chromium: ## make sure Debian's Chromium is there for the browser tests
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else echo "The browser tests need Chromium at /usr/bin/chromium: run 'sudo apt-get install -y chromium'"; exit 1; fi

webkit: ## make sure WebKitGTK's WebDriver and Xvfb are there for the WebKit-engine tests
	@if command -v WebKitWebDriver >/dev/null && command -v Xvfb >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=900 webkit2gtk-driver xvfb >/dev/null; \
	else echo "The WebKit tests need WebKitWebDriver and Xvfb: run 'sudo apt-get install -y webkit2gtk-driver xvfb'"; exit 1; fi

node-tools: ## axe-core for the accessibility checks (from npm)
	@test -f node_modules/axe-core/axe.min.js || npm install --silent --no-audit --no-fund --prefix . axe-core@4 >/dev/null

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check sync server tests bench
	$(BIN)/mypy

format: $(STAMP) ## format the code with ruff
	$(BIN)/ruff format sync server tests bench
	$(BIN)/ruff check --fix sync server tests bench

test: $(STAMP) chromium webkit node-tools lint ## install what the tests need, lint, run the whole suite
	$(BIN)/python -m pytest -q -n auto

fault: $(STAMP) ## only the fault tests: lost answers and killed servers (PostgreSQL too when PEERLOG_TEST_POSTGRES_URL is set)
	$(BIN)/python -m pytest -q -m fault tests/fault

bench: $(STAMP) bench/.pouchdb/node_modules/.bin/pouchdb-server ## run the benchmarks (see BENCHMARKS.md)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

bench-growth: $(STAMP) ## push cost from an empty log to 1,000,000 logged mutations (SQLite; PostgreSQL too with PEERLOG_TEST_POSTGRES_URL)
	$(BIN)/python bench/bench_growth.py

bench/.pouchdb/node_modules/.bin/pouchdb-server:
	npm install --silent --no-audit --no-fund --prefix bench/.pouchdb pouchdb-server@4.2.0 >/dev/null

bench-peer: $(STAMP) bench/.pouchdb/node_modules/.bin/pouchdb-server ## Peerlog's push and pull beside pouchdb-server's (from npm)
	$(BIN)/python bench/bench_peer.py

fuzz: $(STAMP) ## schemathesis on every API operation, as an admin and a peer leader: any 5xx fails (BENCHMARKS.md)
	$(BIN)/python -m tests.fuzzing --max-examples $${FUZZ_EXAMPLES:-100}

screenshots: $(STAMP) chromium ## redraw the README's screenshots into docs/ (needs a CJK font: fonts-wqy-microhei)
	$(BIN)/python bench/screenshots.py --folder docs

messages: $(STAMP) ## extract every msgid (babel.cfg) into pwa/locale/messages.pot; `python -m server.i18n check` lists the untranslated
	$(BIN)/pybabel --quiet extract --mapping-file babel.cfg --sort-by-file --project Peerlog \
		--output-file pwa/locale/messages.pot pwa
	$(BIN)/python -m server.i18n check

migrations: $(STAMP) ## regenerate the schema migration after a model change
	$(BIN)/tortoise makemigrations

clean: ## remove the virtual environment and local data
	rm -rf $(VENV) data node_modules
