# Two commands do all the set-up: `make demo` and `make test`.
SHELL := /bin/bash
export SPW_HOME ?= $(CURDIR)/.spw
VENV_BIN := $(SPW_HOME)/venvs/airflow/bin

.PHONY: install demo test down lint clean clean-all

install:
	@scripts/bootstrap.sh

demo: install
	@$(VENV_BIN)/spw demo

# The suite includes the bundle freshness check (tests/test_dashboards_bundle.py); lint runs after it.
test: install
	@scripts/ensure-chromium.sh
	@scripts/ensure-poppler.sh
	@scripts/ensure-axe.sh
	@$(VENV_BIN)/pytest
	@$(MAKE) --no-print-directory lint

down:
	@$(VENV_BIN)/spw down

lint: install
	@$(VENV_BIN)/ruff check src dags tests benchmarks
	@cd dbt_project && $(VENV_BIN)/sqlfluff lint models macros

# Keeps the database, the secrets and the pseudonymisation key (docs/operations.md, state folder):
# only what `make install` / `make test` rebuild is removed.
clean:
	-@[ -x $(VENV_BIN)/spw ] && $(VENV_BIN)/spw down
	-@[ -d $(SPW_HOME)/test-home ] && [ -x $(VENV_BIN)/python ] && \
	  SPW_HOME=$(SPW_HOME)/test-home $(VENV_BIN)/python -c "from spw import pg; pg.discard()"
	rm -rf $(SPW_HOME)/venvs $(SPW_HOME)/tools $(SPW_HOME)/test-home $(SPW_HOME)/test-platform-* \
	       $(SPW_HOME)/logs $(SPW_HOME)/dbt-logs test-output dbt_project/target
	@echo "kept $(SPW_HOME) (database, secrets, pseudonymisation key); \`make clean-all CONFIRM=yes\` deletes them"

# Deletes the state folder itself: the database, every secret and the pseudonymisation key, without
# which nothing loaded later links to what is loaded now. Back up and hand the key to its custodian first.
clean-all:
	@echo "WARNING: this deletes $(SPW_HOME): the local database (every load and build), the secrets and"
	@echo "         the pseudonymisation key (without it later loads link to nothing loaded before)."
	@echo "         Back up first (spw backup --out DIR) and give the key to its custodian."
	@if [ "$(CONFIRM)" != "yes" ]; then echo "nothing deleted: run \`make clean-all CONFIRM=yes\` to go ahead"; exit 1; fi
	-@[ -x $(VENV_BIN)/spw ] && $(VENV_BIN)/spw down
	-@[ -x $(VENV_BIN)/python ] && $(VENV_BIN)/python -c "from spw import pg; pg.discard()"
	rm -rf $(SPW_HOME) test-output dbt_project/target
