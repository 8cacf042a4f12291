# Two entry points for a fresh machine; each installs what it needs first.
#   make demo   the whole DAG on the embedded sid-synth dataset (CPU, minutes)
#   make test   lint + the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test paper lint install

$(BIN)/gianet: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/gianet

demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores all

paper: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores all --configfile configs/paper.yaml

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --lint

test: lint
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest
