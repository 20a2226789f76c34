# The README's two commands are `make run` and `make test`; the rest are for developers.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test unit integration e2e lint lock bench bench-sweep bench-memory bench-sim fuzz chaos broker prometheus browser clean

# The pinned, hashed versions of requirements-dev.lock (`make lock`), so that every machine
# and CI test the same dependencies; then the project itself, whose needs the lock holds.
$(STAMP): pyproject.toml requirements-dev.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m services.cli run

broker: $(STAMP)
	$(PY) -c "from services.ops.infra import ensure_broker; from services.common.config import load_settings; ensure_broker(load_settings()['AMQP_URI'])"

# promtool checks the alert rules; the metrics e2e test runs a real Prometheus.
prometheus: $(STAMP)
	$(PY) -c "from services.ops.infra import ensure_prometheus; ensure_prometheus()"

# Headless Chromium for the wallboard test (installed from the OS packages when missing).
browser: $(STAMP)
	$(PY) -c "from services.ops.browser import ensure_chromium; ensure_chromium()"

test: $(STAMP) broker prometheus browser
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -p no:cacheprovider tests

unit: $(STAMP) prometheus
	$(PY) -m pytest -q tests/unit

integration: $(STAMP) broker
	$(PY) -m pytest -q tests/integration

e2e: $(STAMP) broker prometheus browser
	$(PY) -m pytest -q tests/e2e

lint: $(STAMP)
	$(VENV)/bin/ruff check .

fuzz: $(STAMP) broker
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} $(PY) -m pytest -q tests/e2e/test_fuzz_api.py

chaos: $(STAMP) broker
	$(PY) -m chaos.run

bench: $(STAMP) broker
	$(PY) -m bench.intake_dispatch

bench-sweep: $(STAMP) broker
	$(PY) -m bench.rate_sweep

# 100,000 orders through the call-centre feed; BENCH_MEMORY_ORDERS for a shorter run.
bench-memory: $(STAMP) broker
	$(PY) -m bench.memory

# No broker, no database: the dispatch rules on a simulated clock, and at scale.
bench-sim: $(STAMP)
	$(PY) -m bench.peak_season
	$(PY) -m bench.dispatch_scale

# The lock files (README, Deployment): requirements.lock for the image, requirements-dev.lock
# (with the dev and embedded extras) for CI. pip-compile names the project itself in the
# dev lock through its self-referencing extra, as a local path: that entry is dropped.
PIP_COMPILE = $(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url
lock: $(STAMP)
	$(PY) -m pip install --quiet pip-tools
	$(PIP_COMPILE) --output-file requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra dev --output-file requirements-dev.lock pyproject.toml
	$(PY) -c "import re, pathlib; p = pathlib.Path('requirements-dev.lock'); \
	  p.write_text(re.sub(r'# WARNING: pip install will require.*?\n(?=[a-z])|aftersales @ [^\n]*\n(    #[^\n]*\n)*', '', p.read_text(), flags=re.S))"

clean:
	rm -rf $(VENV) var .pytest_cache
