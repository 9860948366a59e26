# `make run` and `make test` set everything up on a fresh Debian machine; the second time they are quick.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test soak setup system lint constraints clean

run: setup
	$(VENV)/bin/workstation demo

# Two workers by default (the suite is sized for a 2-core machine); TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# Everything but the soaks (pyproject's addopts: -m "not soak"); passwords hashed at the test cost (tests/conftest.py).
test: setup
	$(PY) -m pytest $(XDIST)

# The soaks alone: 5,000-dossier pools, ten desks, every seed of the kill tests. CI runs them once, after `make test`.
soak: setup
	$(PY) -m pytest -m soak $(XDIST)

setup: system $(STAMP)

system:
	@bash scripts/system-deps.sh

# constraints.txt pins every package to the versions the suite passed with (the screen snapshots depend on Textual's).
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s)" % sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# After a deliberate upgrade in the venv, with the suite (and its snapshots) passing: write the pins anew.
constraints:
	$(PY) scripts/freeze-constraints.py constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
