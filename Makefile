# The two set-up commands of the README: `make demo` and `make test`.
# Each creates .venv (if missing) and installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_EDGE := $(VENV)/.stamp-edge
STAMP_ALL := $(VENV)/.stamp-all

.PHONY: demo test test-slow lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The acquisition-PC install: edge only, no torch.
$(STAMP_EDGE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

# Everything the test suite needs: every extra and the dev tools.
$(STAMP_ALL): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[train,export,io,mm,view,dev]"
	touch $@ $(STAMP_EDGE)

demo: $(STAMP_EDGE)
	$(BIN)/aglu-edge demo

lint: $(STAMP_ALL)
	$(BIN)/ruff check edge export training tests
	$(BIN)/mypy edge export training

test: lint
	bash tools/sysdeps.sh
	$(BIN)/python -m pytest -q

test-slow: $(STAMP_ALL)
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
