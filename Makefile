# kiln — `make demo` and `make test` work on a fresh machine: the first run creates the
# virtual environment and installs what is needed; later runs reuse it until a
# requirements file or pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kiln-installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help demo test lint bench venv clean compile

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

# uv (a PyPI wheel) installs the pinned requirements in seconds; without it (no uv on PATH
# and its wheel not installable) pip does the same work, slower. One line per step.
UV_VERSION := 0.13.8
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@echo "venv [1/4] creating $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@echo "venv [2/4] uv $(UV_VERSION)"
	@if command -v uv >/dev/null 2>&1; then ln -sf "$$(command -v uv)" $(BIN)/uv; \
	else $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) \
	    || echo "venv       uv is not available: pip installs instead"; fi
	@if [ -x $(BIN)/uv ]; then \
	    echo "venv [3/4] requirements-dev.txt with uv"; \
	    $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.txt; \
	else \
	    echo "venv [3/4] requirements-dev.txt with pip"; \
	    $(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt; \
	fi
	@echo "venv [4/4] kiln (editable)"
	@if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .; \
	else $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .; fi
	@touch $(STAMP)

# kiln's own modules are imported from the source tree; byte-compile them once so a
# command does not recompile them on every start (PYTHONDONTWRITEBYTECODE may be set).
compile: $(STAMP)
	@$(BIN)/python -m compileall -q infra policies >/dev/null

venv: $(STAMP) ## Create or update the virtual environment

demo: compile ## Run kiln's pipeline locally: bake, sign, plan, deploy, promote, roll back, audit
	.ci/install-tools packer docker.io docker-registry busybox-static
	$(BIN)/kiln demo

test: compile ## Run the test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## Lint and type-check
	$(BIN)/ruff check infra tests bench policies
	$(BIN)/mypy
	$(BIN)/mypy policies/immutable/kiln_immutable
	$(BIN)/mypy bench

bench: compile ## Run the benchmarks (each prints one comparison table)
	@set -e; for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
