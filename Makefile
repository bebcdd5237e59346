# xnorflow: the README's two commands are `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR ?= ../shared/data

.PHONY: setup demo test test-all lint bench clean

setup:
	bash scripts/setup.sh

demo: setup
	$(VENV)/bin/xnorflow demo --out demo

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -m "not slow"

test-all: setup
	$(VENV)/bin/pytest -m ""

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) benchmarks/run_all.py --data-dir $(DATA_DIR)

clean:
	rm -rf build demo dist .pytest_cache
