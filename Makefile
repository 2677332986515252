# Public-health analytics warehouse — the two commands: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENVS := .venvs
PIPE := $(VENVS)/pipeline
SUPERSET := $(VENVS)/superset
TOOLS := $(VENVS)/tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
PHW := $(PIPE)/bin/phw
DOCS_ASSETS := $(VENVS)/gx-data-docs-assets/.fetched
PYTEST_ARGS ?=

.PHONY: help setup system-packages run stop status test lint format lock bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# Debian packages: PostgreSQL's server, Chromium with CJK fonts for the browser tests, Pango
# for the exports' PDF (WeasyPrint) and poppler-utils (pdftotext / pdftoppm) for their tests
system-packages: ## PostgreSQL, Chromium, CJK fonts, Pango, poppler-utils (Debian), when missing
	@missing=""; \
	if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then missing="postgresql"; fi; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing="$$missing fonts-noto-cjk"; \
	/sbin/ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || missing="$$missing libpango-1.0-0 libpangoft2-1.0-0"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing (apt-get)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv

# --compile-bytecode: uv installs sources only, and where PYTHONDONTWRITEBYTECODE is set (as on
# this machine) every dbt, Airflow task and pytest process would compile its imports again
# (dbt's start-up 1.1 s longer, benchmarks/bench_dbt.py)
$(PIPE)/.installed: requirements/pipeline.lock.txt pyproject.toml | $(UV)
	$(UV) venv -q --allow-existing --python $(PYTHON) $(PIPE)
	VIRTUAL_ENV=$(PIPE) $(UV) pip install -q --compile-bytecode -r requirements/pipeline.lock.txt
	VIRTUAL_ENV=$(PIPE) $(UV) pip install -q --no-deps -e .
	touch $@

# GX Data Docs' scripts, styles and fonts from the npm registry (pinned, SHA-512 checked), so the
# docs served at Airflow's /data-docs/ work without internet
$(DOCS_ASSETS): src/phwarehouse/quality/docs_vendor.py | $(PIPE)/.installed
	$(PIPE)/bin/python -m phwarehouse.quality.docs_vendor fetch
	touch $@

$(SUPERSET)/.installed: requirements/superset.lock.txt pyproject.toml | $(UV)
	$(UV) venv -q --allow-existing --python $(PYTHON) $(SUPERSET)
	VIRTUAL_ENV=$(SUPERSET) $(UV) pip install -q --compile-bytecode -r requirements/superset.lock.txt
	# the dashboards' importer (phwarehouse.dashboards.superset_apply) runs in this venv
	VIRTUAL_ENV=$(SUPERSET) $(UV) pip install -q --no-deps -e .
	touch $@

setup: system-packages $(PIPE)/.installed $(SUPERSET)/.installed $(DOCS_ASSETS) ## install everything (idempotent)

run: setup ## the main job: local stack up, demo district ingested and modelled, summary
	$(PHW) run

stop: ## stop every process `make run` started
	@if [ -x $(PHW) ]; then $(PHW) down; else echo "nothing installed, nothing runs"; fi

status: ## show what runs
	@if [ -x $(PHW) ]; then $(PHW) status; else echo "nothing installed, nothing runs"; fi

test: setup lint ## install, lint, start a throwaway cluster, run every test, tear down
	$(PIPE)/bin/python -m pytest $(PYTEST_ARGS)

# The hooks of .pre-commit-config.yaml on every tracked file: ruff check and format, sqlfluff
# (dbt models and macros), yaml, end of file, large files, private keys; tools from the pipeline
# venv. The fixers (ruff format, end-of-file) rewrite what they flag, and the run fails.
lint: $(PIPE)/.installed ## the pre-commit hooks on every tracked file (as CI)
	PRE_COMMIT_HOME=$(VENVS)/pre-commit $(PIPE)/bin/pre-commit run --all-files --show-diff-on-failure

format: setup
	$(PIPE)/bin/ruff format src tests dags benchmarks
	$(PIPE)/bin/ruff check --fix src tests dags benchmarks

lock: | $(UV) ## re-resolve the pinned requirements
	cd requirements && $(abspath $(UV)) pip compile -q pipeline.in --python-version 3.11 -o pipeline.lock.txt
	cd requirements && $(abspath $(UV)) pip compile -q superset.in --python-version 3.11 -o superset.lock.txt

bench: setup ## the district-profile benchmarks (600,000 residents; tens of minutes)
	$(PIPE)/bin/python benchmarks/bench_generate.py
	$(PIPE)/bin/python benchmarks/bench_ingest.py --dbt
	# initial ingest vs. the COPY and pandas anchors, then 3 interleaved warm rounds (100,000)
	$(PIPE)/bin/python benchmarks/bench_ingest.py --residents 100000 --repeat 3
	# full vs one-day incremental dbt build as the pipeline plans it (100,000 then 600,000)
	$(PIPE)/bin/python benchmarks/bench_dbt.py --residents 100000
	$(PIPE)/bin/python benchmarks/bench_dbt.py --residents 600000

clean: stop ## remove local state and venvs
	@if [ -x $(PHW) ]; then $(PHW) remove-cluster; fi  # also a cluster kept outside the checkout
	rm -rf .local $(VENVS)
