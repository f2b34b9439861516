# Two commands on a fresh machine: `make report` (the main job) and `make test` (everything CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: report test lint unit bench browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,ray]'
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/edgegap report --out edgegap-report

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# Headless Chromium for the report's browser test (Debian's package; needs root or sudo).
browser:
	command -v chromium >/dev/null || { SUDO=$$(command -v sudo || true); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# The whole suite, slow end-to-end tests included.
test: lint browser
	$(BIN)/pytest -m "slow or not slow"

# Fast unit tests only (the pytest default).
unit: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,ray,bench]'
	$(BIN)/python benchmarks/profile_vs_peers.py
	$(BIN)/python benchmarks/library_vs_peers.py
