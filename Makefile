# Two commands for a newcomer: `make test` and `make demo`. Both create the virtualenv and install first.
# CI (.ci/run) also runs `make test-airflow2` (Airflow 2.11), `make e2e` (the connection form in Chromium,
# the approval example through the REST API), `make e2e-deploy` (Celery, PostgreSQL, Redis, two workers)
# and `make dist` (sdist + wheel).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The default venv runs the newest Airflow 3.3; the provider itself supports 2.11 and later.
AIRFLOW_VERSION ?= 3.3.2
# One common-compat release for every venv, so both Airflow lines run the same compat sdk.
COMMON_COMPAT_VERSION ?= 1.23.0
# `make test-airflow2` runs the pytest suite again on the newest Airflow 2.11, in its own venv.
AIRFLOW2_VERSION ?= 2.11.2
AIRFLOW2_VENV ?= .venv-af2
PIP_QUIET ?= -q

# Intercom's OpenAPI specs are not part of this repo; the contract test skips without them.
SHARED_OPENAPI := $(abspath ../shared/intercom-openapi)
INTERCOM_OPENAPI_DIR ?= $(if $(wildcard $(SHARED_OPENAPI)/2.11.yaml),$(SHARED_OPENAPI),)
export INTERCOM_OPENAPI_DIR

# Keep Airflow's files (airflow.cfg, SQLite DB, logs) inside the project, git-ignored.
export AIRFLOW_HOME ?= $(CURDIR)/airflow_home
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/example_dags

SANDBOX_PORT ?= 0
DEMO_TOKEN := demo-sandbox-token

.PHONY: install test lint typecheck pytest demo sandbox clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_QUIET) --upgrade pip

# Every venv: the provider (editable) with the test tools, on pinned Airflow and common-compat.
AIRFLOW_PINS = "apache-airflow==$(AIRFLOW_VERSION)" "apache-airflow-providers-common-compat==$(COMMON_COMPAT_VERSION)" \
	$(LINE_PINS)
# Pins one Airflow line needs on a fresh install (empty for Airflow 3).
LINE_PINS ?=
# Airflow 2.11's Fernet sets an attribute on cryptography's MultiFernet, which cryptography 51 (a Rust
# class) no longer allows: every connection with a password then fails to load.
AIRFLOW2_PINS ?= "cryptography<51"

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install $(PIP_QUIET) -e ".[test,openlineage]" $(AIRFLOW_PINS)
	touch $@

# The same plus one more extra, one stamp each: .bench-installed, .dev-installed, .e2e-installed,
# .deploy-installed.
$(VENV)/.%-installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install $(PIP_QUIET) -e ".[test,openlineage,$*]" $(AIRFLOW_PINS)
	touch $@

install: $(VENV)/.installed

# `make bench`: the same venv plus the `bench` extra (python-intercom 5.0.1 and the http provider);
# starts its own loopback sandboxes and prints one markdown table. BENCH_QUICK=1 shrinks the sizes.

.PHONY: bench
bench: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks

# `make dist`: the sdist and the wheel in dist/, built as PyPI would get them (the wheel from the
# sdist, in an isolated env), then `twine check`. build and twine come from the `dev` extra.

.PHONY: dist
dist: $(VENV)/.dev-installed
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# `make e2e`: the Intercom connection form in the Airflow 3.3 UI, driven in headless Chromium
# (tests/e2e). It needs Debian's chromium and chromium-driver, installed here when missing (as
# root, as in CI), never a browser downloaded by a test tool.
.PHONY: e2e e2e-browser
e2e-browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make e2e needs /usr/bin/chromium and /usr/bin/chromedriver: run" \
				"'sudo apt-get install chromium chromium-driver', or make e2e as root." >&2; \
			exit 1; \
		fi; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	fi

# Where the test saves its picture of the filled form; `make e2e E2E_SCREENSHOT=docs/img/connection-form.png`
# refreshes the README's.
E2E_SCREENSHOT ?= build/e2e/connection-form.png
e2e: e2e-browser $(VENV)/.e2e-installed
	E2E_SCREENSHOT=$(abspath $(E2E_SCREENSHOT)) $(BIN)/pytest tests/e2e -m e2e $(PYTEST_ARGS)

# `make e2e-deploy`: the example DAGs on a distributed Airflow 3.3, as a deployment runs them: the
# CeleryExecutor with PostgreSQL as the metadata database and Redis as the broker, the scheduler, DAG
# processor, triggerer, API server and two Celery workers, each its own process (tests/deploy). PostgreSQL
# and Redis come from Debian's packages, installed here when missing (as root, as in CI); the test starts
# them on loopback in temporary directories and stops everything afterwards.
.PHONY: e2e-deploy deploy-services
deploy-services: postgres-server
	@if ! command -v redis-server >/dev/null; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make e2e-deploy needs redis-server: run 'sudo apt-get install redis-server'," \
				"or make e2e-deploy as root." >&2; \
			exit 1; \
		fi; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server; \
	fi
	@# Debian's package starts a system-wide Redis; the test never uses it (it runs its own).

e2e-deploy: deploy-services $(VENV)/.deploy-installed
	$(BIN)/pytest tests/deploy -m e2e_deploy -p no:cacheprovider $(PYTEST_ARGS)

# The sql= tests start their own throwaway PostgreSQL (tests/postgres_server.py) from Debian's server
# binaries, installed here when missing (as root, as in CI); without them those tests skip, saying why.
# They never use the cluster that Debian's package may start: they run their own, on a free loopback port.
.PHONY: postgres-server
postgres-server:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "The PostgreSQL tests will skip: no initdb found. Run 'sudo apt-get install postgresql'," \
				"or make test as root." >&2; \
		else \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; \
		fi; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install postgres-server
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The same pytest run (not lint or mypy) on the Airflow 2.11 line, in $(AIRFLOW2_VENV).
.PHONY: test-airflow2
test-airflow2:
	$(MAKE) pytest VENV=$(AIRFLOW2_VENV) AIRFLOW_VERSION=$(AIRFLOW2_VERSION) LINE_PINS='$(AIRFLOW2_PINS)'

demo: install
	@mkdir -p $(AIRFLOW_HOME)
	$(BIN)/python -m airflow_provider_intercom.sandbox --port 0 --token $(DEMO_TOKEN) --seed demo -- \
		$(BIN)/python example_dags/demo/run_demo.py

sandbox: install
	$(BIN)/python -m airflow_provider_intercom.sandbox --host 127.0.0.1 --port $(or $(filter-out 0,$(SANDBOX_PORT)),8111) \
		--token $(DEMO_TOKEN) --verbose

clean:
	rm -rf $(VENV) $(AIRFLOW2_VENV) airflow_home build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
