# Berth developer tasks.
#   make venv   create .venv and install requirements-dev.txt (again only when a requirements file changes)
#   make run    the whole stack locally (python -m devstack); extra flags: make run ARGS=--apigw-limits
#   make test   the test suite

PY ?= python3
VENV = .venv
PYTHON = $(VENV)/bin/python
# Stamp of the last install: newer than both requirement files means nothing to do.
VENV_STAMP = $(VENV)/.installed
ARGS ?=

.PHONY: venv run test

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements.txt requirements-dev.txt
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install -r requirements-dev.txt
	touch $@

run: venv
	$(PYTHON) -m devstack $(ARGS)

# The end-to-end tests drive skopeo and a private dockerd: install them first (apt-get,
# only what is missing).
test: venv
	bash scripts/install-system-deps.sh
	$(PYTHON) -m pytest -q tests

# The benchmark suite (issue 5, bench/): skopeo and the CNCF distribution registry from
# apt-get if missing, then every section; rewrites docs/benchmarks.md. Not part of `make test`.
# `make bench BENCH_ARGS=--quick` is a smoke run (it prints the report instead).
BENCH_ARGS ?=
.PHONY: bench
bench: venv
	bash bench/install-deps.sh
	$(PYTHON) -m bench $(if $(filter --quick,$(BENCH_ARGS)),,--out docs/benchmarks.md) $(BENCH_ARGS)
