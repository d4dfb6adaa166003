# Two commands do all the set-up: `make demo` and `make test`.
SHELL := /bin/bash
export SPW_HOME ?= $(CURDIR)/.spw
VENV_BIN := $(SPW_HOME)/venvs/airflow/bin

.PHONY: install demo test down lint clean

install:
	@scripts/bootstrap.sh

demo: install
	@$(VENV_BIN)/spw demo

# The suite includes the bundle freshness check (tests/test_dashboards_bundle.py); lint runs after it.
test: install
	@scripts/ensure-chromium.sh
	@$(VENV_BIN)/pytest
	@$(MAKE) --no-print-directory lint

down:
	@$(VENV_BIN)/spw down

lint: install
	@$(VENV_BIN)/ruff check src dags tests benchmarks
	@cd dbt_project && $(VENV_BIN)/sqlfluff lint models macros

clean: down
	rm -rf $(SPW_HOME) test-output dbt_project/target
