# Gaze — the two commands a newcomer needs are `make demo` and `make test`; both set themselves up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
MODEL ?=
# installed only when the venv has no torch yet; GPU users: make setup TORCH='torch' (or any spec)
TORCH ?= torch==2.13.0
DEMO_TASK ?= basics/open_tab
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup chromium demo test test-fast lint typecheck bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-11s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Gaze needs Python >= 3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	@$(PY) -c 'import torch' 2>/dev/null || $(PIP) install --quiet '$(TORCH)'
	$(PIP) install --quiet -e '.[dev,local,bench]'
	@touch $@

setup: $(VENV)/.installed chromium ## create the venv and install Gaze, its dev tools and Chromium

chromium: $(VENV)/.installed ## make sure a Chromium is installed (system package, else Playwright's)
	@$(PY) -c 'from actions.chromium import find_chromium; import sys; sys.exit(0 if find_chromium() else 1)' 2>/dev/null \
	  || $(PY) -c 'import sys; from playwright.sync_api import sync_playwright; p = sync_playwright().start(); import os; sys.exit(0 if os.path.exists(p.chromium.executable_path) else 1)' 2>/dev/null \
	  || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	         echo "installing Debian's chromium"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	       else echo "installing Playwright's Chromium"; $(PY) -m playwright install chromium; fi; }

demo: setup ## the built-in model solves a demo task in a real browser (MODEL=<spec> for another model)
	@if [ -z "$(MODEL)" ]; then $(VENV)/bin/gaze run $(DEMO_TASK); \
	else $(VENV)/bin/gaze run $(DEMO_TASK) --model '$(MODEL)'; fi

test: setup ## run the whole test suite (unit + real-Chromium integration)
	HF_HUB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(VENV)/.installed ## unit tests only (no browser), seconds
	HF_HUB_OFFLINE=1 $(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

lint: $(VENV)/.installed ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed ## mypy on the packages
	$(VENV)/bin/mypy

bench: setup ## loop overhead vs bare Playwright (writes nothing; paste into docs/BENCHMARKS.md)
	$(PY) bench/overhead.py

clean: ## remove the venv and run logs
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
