# Two commands for a newcomer: `make demo` and `make test`.
# Both bootstrap .venv from pyproject.toml on first use; nothing else to install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("snp needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snp demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/pytest benchmarks --benchmark-enable --benchmark-columns=min,median,max,rounds

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
