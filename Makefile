# Dialogforum: every target delegates to scripts/ (which also work without make).
# Extra pytest arguments: make test ARGS='-k healthz -x'

SHELL := /bin/bash
ARGS ?=
POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.DEFAULT_GOAL := help
.PHONY: help setup run test test-postgres lint translations bench screenshots clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

setup: ## Install Python and npm dependencies, vendor socket.io-client, compile translations
	./scripts/setup

run: ## Migrate, seed and serve on http://127.0.0.1:5000 (SQLite in instance/)
	./scripts/run

test: ## Ruff and the whole test suite on SQLite (ARGS='...' go to pytest)
	./scripts/test $(ARGS)

test-postgres: ## The test suite on PostgreSQL (POSTGRES_URL=..., ARGS='...')
	FORUM_TEST_DATABASE_URL='$(POSTGRES_URL)' ./scripts/test $(ARGS)

lint: ## ruff check and mypy
	./scripts/setup
	.venv/bin/ruff check .
	.venv/bin/mypy forum

translations: ## Extract the interface strings into the Swedish catalogue (with references) and compile it
	./scripts/translations

screenshots: ## Retake the README's screenshots into docs/screenshots/ (browser tests, FORUM_SCREENSHOTS=1)
	./scripts/screenshots $(ARGS)

bench: ## All benchmarks, one table of ratios (bench/README.md; FULL=1 for 10,000 connections)
	./scripts/setup
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || echo "wrk not installed: the pages bench uses a Python loader"
	cd bench && ../.venv/bin/python run_all.py $(if $(FULL),--full,) $(ARGS)

clean: ## Remove caches, node_modules, static/vendor and test artifacts (keeps .venv and instance/)
	rm -rf node_modules static/vendor test-artifacts .pytest_cache .ruff_cache .mypy_cache
	find . -path ./.venv -prune -o -type d -name __pycache__ -exec rm -rf {} +
	find forum -name '*.mo' -delete
