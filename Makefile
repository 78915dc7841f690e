# The two commands of the README. Both build .venv on first use and do nothing extra afterwards.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: dev test lint sandbox bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

dev: $(STAMP)  ## broker on 127.0.0.1:8080 + sandbox RvIG on https://127.0.0.1:8443 + demo tenants
	$(BIN)/brp-broker dev

test: $(STAMP)  ## the whole test suite (unit + integration)
	$(BIN)/pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check app tests
	$(BIN)/ruff check app tests
	$(BIN)/mypy

sandbox: $(STAMP)
	$(BIN)/brp-broker sandbox

clean:
	rm -rf $(VENV) .state
