# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help setup train run test lint validate test-stories lock

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup:  ## create or refresh .venv-rasa and .venv from the locks (quick when unchanged)
	@scripts/setup.sh

train: setup  ## train the model unless one for this config, domain and data exists
	@scripts/train.sh >/dev/null

run: setup  ## run the product on the embedded database with demo data (Ctrl-C stops it)
	@scripts/run.sh

test: setup  ## every check: lint, data validation, pytest on PostgreSQL, test stories
	@scripts/test.sh

lint: setup  ## ruff and mypy
	@.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy actions

validate: setup  ## rasa data validate
	@source scripts/common.sh && $$RASA data validate --fail-on-warnings

test-stories: train  ## the Rasa test stories, failing on any wrong prediction
	@source scripts/common.sh && $$RASA test core --model "$$(model_path)" \
	  --stories tests/test_stories.yml --out results/stories --fail-on-prediction-errors

lock:  ## re-resolve both locks from requirements/*.in (needs the package index)
	@scripts/lock.sh
