# pisteur — two commands for a fresh machine:
#   make demo   create .venv, install, index the bundled samples, run example searches
#   make test   create .venv, install with test extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_INDEX := .demo/index

.PHONY: setup setup-test demo test lint typecheck bench-trunk clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -e .

# Test extras: the serve stack, Milvus Lite (2.5 line: the real core) and sentence-transformers on the CPU
# build of torch (pinned: an unpinned torch pulls a multi-GB CUDA build).
setup-test: $(BIN)/python
	$(BIN)/pip install -q 'torch==2.13.0'
	$(BIN)/pip install -q -e '.[dev,serve,milvus,st]'

demo: setup
	rm -rf .demo
	PISTEUR_INDEX=$(DEMO_INDEX) $(BIN)/pisteur index samples/claude samples/docs
	PISTEUR_INDEX=$(DEMO_INDEX) $(BIN)/pisteur status
	PISTEUR_INDEX=$(DEMO_INDEX) $(BIN)/pisteur search "rendez-vous avec le suspect" -k 3
	PISTEUR_INDEX=$(DEMO_INDEX) $(BIN)/pisteur search "message insultant" -k 3
	PISTEUR_INDEX=$(DEMO_INDEX) $(BIN)/pisteur search "garde à vue" -k 3 --kind document
	PISTEUR_INDEX=$(DEMO_INDEX) $(BIN)/pisteur search "where did we fix the failing test?" -k 3
	PISTEUR_INDEX=$(DEMO_INDEX) $(BIN)/pisteur search "écriture du fichier de configuration" -k 3 --json

test: setup-test
	$(BIN)/python -m pytest -q

lint: setup-test
	$(BIN)/ruff check src tests bench

# mypy (config in pyproject) on all of src/pisteur: the retrieval stage, the analyser, the registry and the
# stage protocols strictly, the rest with its annotations checked.
TYPED := src/pisteur tests/retrieve/typecheck_protocols.py
typecheck: setup-test
	$(BIN)/python -m mypy --follow-imports=silent $(TYPED)

clean:
	rm -rf $(VENV) .demo build *.egg-info
