# Python 3.12 or newer; the repository's .python-version picks it under pyenv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOWEST := .venv-lowest
# The npm packages bench/package-lock.json pins (Lighthouse), for the tests that run them
# and bench/lighthouse.py; npm writes this file last.
NODE_MODULES := bench/node_modules/.package-lock.json

.PHONY: run cluster test test-lowest test-stock-daphne bench lint format migrations-check lock

run: $(VENV)/.run-installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py load_demo
	@echo "Serving http://127.0.0.1:8000/ (Ctrl+C stops)"
	$(BIN)/python -m liveblog.server -b 127.0.0.1 -p 8000 liveblog.asgi:application

# The production shape on this machine: nginx, gunicorn, CLUSTER_DAPHNES Daphne processes
# (default 2), Redis (REDIS_URL or a private one), PostgreSQL from DATABASE_URL, on
# http://127.0.0.1:8080/ (CLUSTER_PORT); deploy/cluster.py.
cluster: $(VENV)/.run-installed
	$(BIN)/python -m deploy.cluster

test: $(VENV)/.test-installed $(NODE_MODULES)
	$(BIN)/python -m pytest

# The quick loop against the lowest version pyproject.toml allows of each direct
# dependency (theirs at the newest), so that every lower bound there is one that works.
test-lowest: $(LOWEST)/.installed
	$(LOWEST)/bin/python -m pytest -m "not browser and not faults and not load"

# The end-to-end websocket tests again on stock Daphne (`python -m daphne` with the limits
# it takes: tests/servers.py), which the app must be served correctly by: the browser tests
# and the frames real clients read from a real Daphne. Not the tests of what only
# liveblog/server.py adds (docs/reliability.md, "Stock Daphne").
test-stock-daphne: $(VENV)/.test-installed $(NODE_MODULES)
	LIVEBLOG_TEST_DAPHNE=stock $(BIN)/python -m pytest tests/browser \
		tests/test_server_protocol.py::test_a_real_client_reads_every_frame_size_from_a_real_daphne \
		tests/test_server_protocol.py::test_a_reader_that_stops_reading_gets_every_frame_whole_and_in_order_once_it_reads

# Fan-out to 500, 2,000 and 5,000 readers through one Daphne process, against a bare
# websockets broadcast, written into the table at the top of docs/performance.md; needs
# Redis (see bench/README.md).
bench: $(VENV)/.test-installed
	$(BIN)/python bench/fanout.py --readers 500 2000 5000 --write-docs docs/performance.md

# mypy's settings, and which modules it holds strictly, are in pyproject.toml.
lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: $(VENV)/.run-installed
	$(BIN)/python manage.py makemigrations --check --dry-run

# The lock files make run, make test, CI and deploy/ install from, made from pyproject.toml
# for every platform. A pin that still satisfies pyproject.toml is kept: make lock
# LOCK_FLAGS=--upgrade moves everything to its newest. The test set is held to the
# production one, so that both install the same version of what they share.
LOCK = $(BIN)/uv pip compile -q --universal --python-version 3.12 --generate-hashes \
	--custom-compile-command 'make lock' $(LOCK_FLAGS)
lock: $(VENV)/.uv-installed
	$(LOCK) -o requirements/production.txt pyproject.toml
	$(LOCK) --extra test -c requirements/production.txt -o requirements/test.txt pyproject.toml

$(VENV)/.created:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "liveblog needs Python 3.12 or newer; run: make PYTHON=python3.12 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	touch $@

# Exactly the locked versions, each checked against its hash; liveblog itself on top,
# editable and without dependencies of its own choosing.
$(VENV)/.run-installed: requirements/production.txt pyproject.toml $(VENV)/.created
	$(BIN)/python -m pip install -q --require-hashes -r requirements/production.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.test-installed: requirements/test.txt pyproject.toml $(VENV)/.created
	$(BIN)/python -m pip install -q --require-hashes -r requirements/test.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@ $(VENV)/.run-installed

# Made anew whenever pyproject.toml changes: installing over the old set would keep
# every version that still satisfies it, not the lowest.
$(LOWEST)/.installed: pyproject.toml $(VENV)/.uv-installed
	rm -rf $(LOWEST)
	$(PYTHON) -m venv --without-pip $(LOWEST)
	$(BIN)/uv pip install -q --python $(LOWEST)/bin/python --resolution lowest-direct -e '.[test]'
	touch $@

# Installed again whenever the lock file changes. Without npm the tests that need it skip,
# saying how to install it; in CI nothing may skip, so it fails here first.
$(NODE_MODULES): bench/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix bench --no-audit --no-fund && touch $@; \
	elif [ "$$CI" = true ]; then \
		echo "CI needs npm for bench/package-lock.json: apt-get install nodejs npm" >&2; exit 1; \
	else \
		echo "No npm: the tests that run Lighthouse will skip (apt-get install nodejs npm)."; \
	fi

$(VENV)/.uv-installed: $(VENV)/.created
	$(BIN)/python -m pip install -q uv
	touch $@
