# The README's two commands are `make up` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up scenario test bench reliability install env broker provision databases check-topology docs clean cluster-up cluster-down

up: install env broker provision databases  ## everything, then every process in the foreground
	$(BIN)/python -m runner

test: install broker  ## ruff + mypy + the whole pytest suite (what CI runs)
	bash tests/support/ensure-postgres.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

ORDERS ?= 2000
reliability: install broker  ## the fault suite at a bigger size; rewrites the table in docs/reliability.md
	rm -f var/reliability.jsonl
	$(BIN)/pytest -m reliability --timeout 1800 --orders $(ORDERS) --reliability-report var/reliability.jsonl
	$(BIN)/python -m tests.reliability.report var/reliability.jsonl --command "make reliability ORDERS=$(ORDERS)"

bench: install broker  ## the benchmark suite (docs/benchmarks.md): prints the table, rewrites its block
	$(BIN)/python -m bench

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

env:  ## .env holds the dev secrets; it is made once from .env.example and never committed
	@test -f .env || (cp .env.example .env && echo "created .env from .env.example")

broker:  ## install/start RabbitMQ with the management plugin
	bash broker/ensure-rabbitmq.sh

provision: install env  ## apply the topology to the vhost (idempotent)
	$(BIN)/python -m broker.provision apply

scenario: install env  ## the end-to-end scenario, against the system `make up` runs
	$(BIN)/python -m scenario

databases: install env  ## create every service's schema and seed the demo data (idempotent)
	$(BIN)/python -m services.orders.manage init
	$(BIN)/python -m services.inventory.manage init
	$(BIN)/python -m services.email.manage init

docs: install  ## regenerate the generated parts of docs/ (schemas, catalogue, AsyncAPI, topology)
	$(BIN)/python -m broker.generated_docs

check-topology: install env  ## report drift between the broker and the definition
	$(BIN)/python -m broker.provision check

cluster-up: install  ## a local 3-node RabbitMQ cluster beside the shared node (docs/scaling.md)
	$(BIN)/python -m broker.cluster up

cluster-down: install  ## stop it and delete its data
	$(BIN)/python -m broker.cluster down

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
