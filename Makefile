# Everyday commands. Each runs what CI or the README runs, from the repository root,
# with the project's venv (`make venv` creates it). `make` alone lists the targets.

VENV ?= .venv
PY := $(VENV)/bin/python
# make test PYTEST_ARGS='-x -q tests/unit'
PYTEST_ARGS ?=
# make bench BENCH=e_startup  (all six take about 50 minutes; see benchmarks/README.md)
BENCH ?= a_one_site b_fleet c_drivers d_memory e_startup lab_scale
# make lab LAB_ARGS='--scenario seed-v2-pending --sites 3'
LAB_ARGS ?=

.PHONY: help venv test lint bench lab constraints

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

venv:  ## create .venv with the tested dependency set (constraints.txt), fitelctl editable
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'

$(PY):
	@echo "no $(VENV): run 'make venv' first" >&2; exit 1

test: $(PY)  ## the whole suite, as CI runs it (ruff and strict mypy included)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(PY)  ## ruff check, ruff format --check and strict mypy
	$(PY) -m ruff check fitelctl tests benchmarks
	$(PY) -m ruff format --check fitelctl tests benchmarks
	$(PY) -m mypy

bench: $(PY)  ## the benchmarks with their default arguments; results in benchmarks/results/
	@set -e; for name in $(BENCH); do $(PY) benchmarks/$$name.py; done

lab: $(PY)  ## the embedded lab in the foreground, state in .lab/ (Ctrl-C stops it)
	$(VENV)/bin/fitelctl lab up --state-dir .lab $(LAB_ARGS)

# The newest versions pyproject.toml allows, resolved in a throwaway venv; run
# `make venv test` afterwards and commit constraints.txt only if the suite passes.
constraints:  ## refresh constraints.txt (keeps its leading comment)
	rm -rf .venv-constraints
	python3 -m venv .venv-constraints
	.venv-constraints/bin/pip install -q '.[test]'
	{ sed '/^[^#]/,$$d' constraints.txt; \
	  .venv-constraints/bin/pip freeze --exclude fitelctl; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .venv-constraints
