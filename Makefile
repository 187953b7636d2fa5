# netwarden: two commands. `make demo` runs the suite end to end; `make test` runs every check.
# Both bootstrap what they need (scripts/bootstrap.sh): Debian packages when root, and .venv.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Two workers (CI has 2 cores); a test module stays in one worker (module-scoped simulated fleets);
# the 25 slowest tests are listed at the end (where the suite's time goes).
PYTEST_ARGS ?= -n 2 --dist loadfile --durations=25

.PHONY: all bootstrap demo demo-down test lint typecheck unit pytest bench clean dashboards screenshots
# Prerequisites run in the order written, even under -j (`test` is lint, then typecheck, then pytest).
.NOTPARALLEL:

all: test

bootstrap:
	@scripts/bootstrap.sh

# KEEP=1 (or --keep) leaves the demo's lab, exporters, Prometheus and Alertmanager running;
# demo-down stops them (and Ctrl-C during the demo stops everything).
demo: bootstrap
	@$(BIN)/python -m netwarden.cli.demo $(if $(filter-out 0,$(KEEP)),--keep)

demo-down:
	@$(BIN)/python -m netwarden.cli.demo --down

# lint-imports: the architecture contracts (pyproject.toml [tool.importlinter], docs/architecture.md).
lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: bootstrap
	$(BIN)/mypy

# The tests also need the test-only venv with the full ansible package (cisco.ios).
pytest: bootstrap
	@scripts/bootstrap.sh --ansible-full
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The Grafana provisioning JSON (dashboards/grafana/), from netwarden/dashboards/catalog.py.
dashboards: bootstrap
	$(PY) -m netwarden.cli dashboards generate --out dashboards/grafana

# The README's terminal and report pictures (docs/screenshots/*.svg, netwarden-report.png): the real
# commands on the simulated fleet (scripts/screenshots.py). The dashboard PNGs: dashboards/README.md.
screenshots: bootstrap
	$(PY) scripts/screenshots.py

bench: bootstrap
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .venv-ansible-full .mypy_cache .ruff_cache .pytest_cache out collectors/auditor/_native-*.so
