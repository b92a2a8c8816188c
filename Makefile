# Berth developer tasks.
#   make run    the whole stack locally (python -m devstack), installing only what it needs
#               (requirements-stack.txt); its data is kept in .berth-data/ across restarts.
#               Flags: make run ARGS="--fresh --apigw-limits --api-port 8080 -v" (README, "Try it")
#   make venv   .venv with everything for development and tests (requirements-dev.txt)
#   make test   the test suite

PY ?= python3
VENV = .venv
PYTHON = $(VENV)/bin/python
# Stamps of the last installs: newer than their requirement files means nothing to do.
STACK_STAMP = $(VENV)/.installed-stack
VENV_STAMP = $(VENV)/.installed
ARGS ?=
# where `make run` keeps the registry's data (git-ignored); one folder per stage inside
DATA_DIR ?= .berth-data

.PHONY: venv venv-stack run test

venv: $(VENV_STAMP)

venv-stack: $(STACK_STAMP)

$(STACK_STAMP): requirements.txt requirements-stack.txt
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install -r requirements-stack.txt
	touch $@

$(VENV_STAMP): $(STACK_STAMP) requirements-dev.txt
	$(PYTHON) -m pip install -r requirements-dev.txt
	touch $@

run: venv-stack
	$(PYTHON) -m devstack --data-dir $(DATA_DIR) $(ARGS)

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
