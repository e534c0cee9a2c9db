# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help setup train run test lint check-data flows lock

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup:  ## create or refresh .venv-rasa and .venv from the locks (quick when unchanged)
	@scripts/setup.sh

train: setup  ## train the model unless one for this config, domain and data exists
	@scripts/train.sh >/dev/null

run: setup  ## run the product on the embedded database with demo data (Ctrl-C stops it)
	@scripts/run.sh

test:  ## every check: lint, data validation, test stories, NLU, pytest (PostgreSQL, Redis, Chromium)
	@REQUIRE_WEBCHAT=1 scripts/setup.sh
	@scripts/test.sh

lint: setup  ## ruff, mypy and the import contracts
	@.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy actions && .venv/bin/mypy --python-executable .venv-rasa/bin/python --python-version 3.10 custom_components custom_channels tests/rasa/*.py && .venv/bin/lint-imports --no-cache

check-data: setup  ## for designers: validate data, train if needed, test and held-out stories, NLU test set
	@scripts/check_data.sh

flows: setup  ## redraw docs/flows.md (the conversation flows) from the rules and stories
	@.venv/bin/python scripts/flows.py > docs/flows.md && echo "docs/flows.md updated"

lock:  ## re-resolve the locks from requirements/*.in (needs the package index)
	@scripts/lock.sh
