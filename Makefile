# Berth developer tasks.
#   make run    the whole stack locally (python -m devstack), installing only what it needs
#               (requirements-stack.txt); its data is kept in .berth-data/ across restarts.
#               Flags: make run ARGS="--fresh --apigw-limits --api-port 8080 -v" (README, "Try it")
#   make venv   .venv with everything for development and tests (requirements-dev.txt)
#   make check  the quick loop, under two minutes on 2 cores (at 89579cc, idle machine: 107 s
#               in a new clone, 76-88 s again; 135-170 s of user CPU, was 330): ruff, the layering
#               contract, mypy (with its incremental cache, .mypy_cache), unit, API and
#               store-contract tests (Python only, no system packages; two workers, a file
#               at a time; the OCI protocol's API tests run on the stores' in-memory twins
#               (tests/memory_graph.py), the management, auth and contract tests on in-process
#               moto with devstack/moto_shortcuts.py; the tests' object
#               graphs hash passwords at a trivial cost, their moto parses each template once,
#               the API and contract tests share a stack per worker, emptied before each
#               test, and the upload service's contract tests run at a 64th of the size:
#               tests/conftest.py, tests/api, tests/contract)
#   make e2e    every other test: real clients against the local stack, the local stack's own
#               processes (tests/devstack), slapd (tests/ldap,
#               the LDAP tests of the client, the token service and /configurations),
#               Chromium, the deployment checks, the fault matrix, the scale checks, the fuzz
#               run over the management API's OpenAPI document (tests/fuzz: a minute and a
#               half of CPU) (installs the system packages they drive)
#   make test   both: what CI runs
#   make infra | deploy | finish | infra-delete STAGE=prod   deploying to AWS (below)

PY ?= python3
VENV = .venv
PYTHON = $(VENV)/bin/python
# Stamps of the last installs: newer than their requirement files means nothing to do.
STACK_STAMP = $(VENV)/.installed-stack
VENV_STAMP = $(VENV)/.installed
ARGS ?=
# where `make run` keeps the registry's data (git-ignored); one folder per stage inside
DATA_DIR ?= .berth-data

.PHONY: venv venv-stack run test check e2e

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

QUICK_TESTS = tests/unit tests/api tests/contract
# everything else: e2e, ldap, fuzz, deploy, faults, scale, and any folder added later
SLOW_TESTS = tests $(addprefix --ignore=,$(QUICK_TESTS))
# The quick loop writes Python's bytecode cache (the git-ignored __pycache__ folders) even
# where PYTHONDONTWRITEBYTECODE is set: without it each worker compiles, and pytest
# rewrites, every test module again, about 12 s of CPU a worker. The quick tests use no
# pytest plugin of schemathesis, hypothesis or anyio (tests/fuzz is in e2e): not loading
# them saves each process a second. The workers take files in the order tests/conftest.py
# sets (pytest_collection_modifyitems: a folder at a time, in it the longest files first).
CHECK_PYTEST = PYTHONDONTWRITEBYTECODE= $(PYTHON) -m pytest -p no:schemathesis -p no:hypothesispytest -p no:anyio

check: venv
	$(PYTHON) -m ruff check --quiet .
	$(CHECK_PYTEST) -q -n 2 --dist loadfile --no-loadscope-reorder $(QUICK_TESTS)

# The end-to-end tests drive skopeo, a private dockerd, containerd, slapd and Chromium:
# install them first (apt-get, only what is missing). Two workers, a file each at a time:
# every worker starts its own stack and daemons on free ports and private sockets.
e2e: venv
	bash scripts/install-system-deps.sh
	$(PYTHON) -m pytest -q -n 2 --dist loadfile --durations=15 $(SLOW_TESTS)

test: check e2e

# The benchmark suite (issue 5, bench/): skopeo and the CNCF distribution registry from
# apt-get if missing, then every section; rewrites docs/benchmarks.md. Not part of `make test`.
# `make bench BENCH_ARGS=--quick` is a smoke run (it prints the report instead).
BENCH_ARGS ?=
.PHONY: bench
bench: venv
	bash bench/install-deps.sh
	$(PYTHON) -m bench $(if $(filter --quick,$(BENCH_ARGS)),,--out docs/benchmarks.md) $(BENCH_ARGS)

# Deploying to AWS the Chalice way (README, "Deploying to AWS"; deploy/). STAGE names the
# stage; INFRA_ARGS passes template parameters, e.g. INFRA_ARGS=AlarmEmail=ops@example.com.
#   make infra STAGE=prod    the stacks in infra/ (only what changed), then .chalice/config.json
#                            and .chalice/policy-$(STAGE).json for the stage
#   make finish STAGE=prod   after `chalice deploy`: the 401 challenge, the pull log
#                            subscription, the first start (secrets, library, admin)
#   make deploy STAGE=prod   all three: infra, chalice deploy, finish (again: changes nothing)
#   make infra-delete STAGE=prod   after `chalice delete`: the stacks (bucket and table stay)
STAGE ?=
INFRA_ARGS ?=
CHALICE = $(VENV)/bin/chalice
.PHONY: infra finish deploy infra-delete stage-set

stage-set:
	@test -n "$(STAGE)" || { echo "give the stage: make $(MAKECMDGOALS) STAGE=prod"; exit 2; }

infra: venv-stack stage-set
	$(PYTHON) -m deploy.infra --stage $(STAGE) $(INFRA_ARGS)

finish: venv-stack stage-set
	$(PYTHON) -m deploy.finish --stage $(STAGE)

deploy: infra
	$(CHALICE) deploy --stage $(STAGE)
	$(PYTHON) -m deploy.finish --stage $(STAGE)

infra-delete: venv-stack stage-set
	$(PYTHON) -m deploy.infra --stage $(STAGE) --delete
