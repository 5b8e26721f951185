# Two commands on a fresh machine with Python 3.11+:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install lint clean

demo: $(VENV)/.installed  ## install, then run the whole product on this machine
	$(BIN)/pursuit demo $(ARGS)

test: $(VENV)/.installed  ## install, then run the test suite (a private redis-server; Chromium for browser tests)
	$(BIN)/python -m pytest $(ARGS)

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,embedded-redis]'
	touch $@

lint: $(VENV)/.installed  ## ruff (lint + format) and mypy --strict over the packages (config in pyproject.toml)
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

clean:
	rm -rf $(VENV) .pursuit test-artifacts
