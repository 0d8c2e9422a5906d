# Plimsoll: the two commands a newcomer needs are `make demo` and `make test`.
# Everything installs itself on first use (uv, Python packages, PostgreSQL, Kafka, Keycloak).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
TOOLS := $(CURDIR)/.cache/tools
UV := $(TOOLS)/bin/uv
PY := $(CURDIR)/.venv/bin/python
STACK := $(PY) deploy/local/stack.py
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
# Never let uv fetch a Python build from outside the package registries.
export UV_PYTHON_DOWNLOADS := never
PYTHON311 := $(shell command -v python3.11 || command -v python3)

.PHONY: help install up down status logs reset test test-faults lint typecheck demo bench bench-quick

help:
	@echo "make demo        bring the stack and services up and tell the story"
	@echo "make test        lint, typecheck and every test against the real stack"
	@echo "make test-faults PostgreSQL, Kafka and a service restarted or killed under writes, reconciled"
	@echo "make up|down|status|logs|reset   drive the local stack (deploy/local)"
	@echo "make bench|bench-quick            benchmarks, results in bench/results/"

$(UV):
	@python3 -m venv $(TOOLS) || { echo "error: python3 -m venv failed: apt-get install -y python3-venv" >&2; exit 1; }
	@$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) \
		|| { echo "error: could not install uv from PyPI" >&2; exit 1; }

install: $(UV)
	@$(UV) sync --frozen --all-packages --python $(PYTHON311) --quiet

up: install
	@$(STACK) up

down:
	@if [ -x $(PY) ]; then $(STACK) down; else echo "nothing to stop"; fi

status: install
	@$(STACK) status

logs: install
	@$(STACK) logs

reset: install
	@$(STACK) reset

lint: install
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .

typecheck: install
	@$(UV) run --frozen mypy

# On failure, what the servers logged as warnings and errors, after the summary (CI shows the end).
test: lint typecheck
	@$(UV) run --frozen pytest || { $(STACK) logs --problems --lines 12; exit 1; }

test-faults: lint typecheck
	@$(UV) run --frozen pytest -m faults tests/faults

demo: up
	@$(PY) deploy/local/demo.py

bench: up
	@$(PY) -m bench.run

bench-quick: up
	@$(PY) -m bench.run --quick
