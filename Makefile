PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTO_OUT := titan_ha/_proto

.PHONY: build run test proto lint vet chaos bench certs clean

build: $(STAMP) bin/manager bin/worker bin/titan

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

bin/%: $(STAMP)
	@mkdir -p bin
	@printf '#!/bin/sh\nexec "%s/$(VENV)/bin/python" -m titan_ha.%s "$$@"\n' \
		"$(CURDIR)" "$(if $(filter titan,$*),cli,$*)" > $@
	@chmod +x $@

proto: $(STAMP)
	$(PY) -m titan_ha.protogen $(PROTO_OUT)

run: build
	$(PY) -m titan_ha.devrun --config configs/ha-local.toml --state-dir .titan

test: build
	$(PY) -m pytest -q -ra

LINT_DIRS := $(wildcard titan_ha tests jepsen_like examples)

bench: build
	$(PY) tests/bench/run.py

chaos: build
	$(PY) -m jepsen_like run --managers 3 --workers 3 --duration 300 \
		--nemesis kill-leader,pause-leader,partition-leader,kill-worker,pause-worker,restart-all \
		--seed $${SEED:-1} --out jepsen_like/runs/chaos-$$(date +%Y%m%d-%H%M%S)-seed$${SEED:-1}

lint: build
	$(VENV)/bin/ruff check $(LINT_DIRS)
	$(VENV)/bin/ruff format --check $(LINT_DIRS)

vet: build
	$(VENV)/bin/mypy titan_ha jepsen_like

clean:
	rm -rf $(VENV) bin .titan
