# Two commands do all setup: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: demo test lint docs bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	# spikingjelly 2.0.0 pins a torchaudio that does not import here; it needs only torch, numpy, loguru.
	$(BIN)/pip install -q --no-deps spikingjelly==2.0.0
	touch $@

$(DOCS_STAMP): $(TEST_STAMP)
	$(BIN)/pip install -q -e '.[docs]'
	touch $@

demo: $(STAMP)
	$(BIN)/ashnet demo --out runs/demo

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q

lint: $(TEST_STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/neurons.py

clean:
	rm -rf $(VENV) docs/_build docs/auto_examples runs
