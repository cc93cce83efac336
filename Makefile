# Lesslabel: `make run` starts the app at http://127.0.0.1:8000, `make test` runs every test.
# Both install what is missing first (a .venv, the front-end build) and reuse it after.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.requirements-installed
NPM_STAMP := frontend/node_modules/.installed
FRONTEND_BUILD := frontend/dist/app.js
FRONTEND_SOURCES := $(shell find frontend/src frontend/public -type f 2>/dev/null) frontend/vite.config.ts frontend/tsconfig.json

.PHONY: run test test-embedded-live test-models-out test-bench test-api gpu-check test-cluster install frontend frontend-test browser lint typecheck clean

run: install frontend
	$(PY) manage.py migrate --noinput
	$(PY) -m webapp.launcher --seed-demo

# The suite runs on the machine's PostgreSQL and Redis when they are reachable (as on CI), then
# its fast part again on the embedded defaults (SQLite, embedded Redis; the worker tests there:
# `make test-embedded-live`), so both paths stay real. The browser tests (tests/browser: Playwright driving Chromium against a
# daphne on the test database) are part of the first pass. The model exports (tests/training/
# models_out: ONNX, TorchScript and BioImage.IO packages made and checked, minutes on 2 cores) have
# their own target, `make test-models-out`, and so have the benchmarks' quick runs on tiny
# generated data (tests/training/test_bench*.py: real workers and servers), `make test-bench`, and
# schemathesis against a live server (tests/api/test_schema_conformance.py), `make test-api`; CI
# runs them after this one.
test: install frontend frontend-test browser lint typecheck
	$(PY) -m pytest --durations=20 --ignore=tests/training/models_out --ignore-glob='tests/training/test_bench*.py' \
		--ignore=tests/api/test_schema_conformance.py
	TEST_DATABASE=sqlite TEST_REDIS=embedded $(PY) -m pytest -q -m "not slow" tests/labeling tests/webapp

# The worker tests again on the embedded defaults (SQLite, embedded Redis): about 7 minutes on 2
# cores, so apart from `make test` (which runs them on PostgreSQL and Redis, and `make run`'s
# launcher on the embedded defaults); CI runs it after `make test`.
test-embedded-live: install
	TEST_DATABASE=sqlite TEST_REDIS=embedded $(PY) -m pytest -q tests/live

test-models-out: install
	$(PY) -m pytest -q --durations=10 tests/training/models_out

test-bench: install
	$(PY) -m pytest -q --durations=10 tests/training/test_bench*.py

# The app's CUDA path whenever a GPU is lent (training/bench/gpucheck.py): a few hundred steps of
# mixed-precision training and a prediction on CUDA, compared with the CPU's, with steps/s and peak
# GPU memory; a few minutes with CUDA's start-up. Without CUDA it says so, exits 0, writes nothing.
GPU_CHECK_OUT ?= bench/results/gpu-check.json
gpu-check: install
	$(PY) -m training.bench gpu-check --out $(GPU_CHECK_OUT)

# Every operation of the OpenAPI schema, a few generated requests each, against daphne on the test
# database: no 5xx, every answer as documented (about 3 minutes on 2 cores; more examples per
# operation with `make test-api SCHEMATHESIS_MAX_EXAMPLES=20`).
SCHEMATHESIS_MAX_EXAMPLES ?= 3
test-api: install
	SCHEMATHESIS_MAX_EXAMPLES=$(SCHEMATHESIS_MAX_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider tests/api/test_schema_conformance.py

# A department's deployment on this machine (tests/cluster): network namespaces as hosts, with
# PostgreSQL, Redis and an S3 server (moto) on one, two daphne web hosts and two workers; a walk
# through the API and its faults. Needs root and `ip netns`; elsewhere it skips and says why.
# `make test-cluster CLUSTER_BROKER=rabbitmq` runs the same with RabbitMQ as the broker.
CLUSTER_BROKER ?= redis
test-cluster: install
	CLUSTER_TEST=1 CLUSTER_BROKER=$(CLUSTER_BROKER) $(PY) -m pytest -p no:cacheprovider -rs -s --timeout 900 tests/cluster

install: $(PIP_STAMP)

$(PIP_STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

frontend: $(FRONTEND_BUILD)

$(NPM_STAMP): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

$(FRONTEND_BUILD): $(NPM_STAMP) $(FRONTEND_SOURCES)
	cd frontend && npm run build

# The front end's unit tests (vitest, in Node): the pure painter modules under frontend/src.
frontend-test: $(NPM_STAMP)
	cd frontend && npm test

# Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; its own browser
# download is not used).
browser:
	test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: install
	$(PY) -m mypy labeling training webapp

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist var
