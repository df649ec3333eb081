# All set-up happens here: `make test` and `make demo` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UPSTREAM ?= ../shared/openapi/openai-openapi.yaml
SPEC := openapi/assistants.yaml
MODELS := assistants_client/models
SPEC_JSON := assistants_client/server/openapi.json
STAMP := $(VENV)/.installed
BASE_STAMP := $(VENV)/.installed-base
PIP_LOG := $(VENV)/pip.log
NODE_STAMP := node_modules/.installed

.PHONY: all venv test lint typecheck pytest trim generate check-generated demo django-demo bench emulator docs clean

all: test

# pip's output goes to $(PIP_LOG) and is shown only when an install fails, so that a first
# `make demo` prints one line about it, not pip's and setuptools' chatter.
define pip_install
	@echo "make: installing $(2) into $(VENV) (once; pip's output in $(PIP_LOG))"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@{ $(PY) -m pip install --upgrade pip && $(PY) -m pip install $(1); } > $(PIP_LOG) 2>&1 \
		|| { cat $(PIP_LOG); echo "make: the install failed (above)"; exit 1; }
endef

# The package with the tools for working on it (make test, make docs...).
$(STAMP): pyproject.toml
	$(call pip_install,-e '.[dev]',the package and its dev tools)
	@touch $(BASE_STAMP) $(STAMP)

# The package alone: all that make demo and make emulator need.
$(BASE_STAMP): pyproject.toml
	$(call pip_install,-e .,the package)
	@touch $(BASE_STAMP)

venv: $(STAMP)

# Prism, the mock server of the contract tests (tests/contract), pinned in package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy assistants_client

trim: $(STAMP)
	$(PY) -m codegen.trim $(UPSTREAM) $(SPEC)

generate: $(STAMP)
	$(PY) -m codegen.generate $(SPEC) $(MODELS) --document $(SPEC_JSON)
	$(PY) -m codegen.async_client

check-generated: $(STAMP)
	$(PY) -m codegen.generate --check $(SPEC) $(MODELS) --document $(SPEC_JSON)
	$(PY) -m codegen.async_client --check

# Two processes (pytest-xdist) halve the wall time on CI's two cores; each has its own
# PostgreSQL servers and browsers (tests/support). PYTEST_WORKERS=0 runs the tests in one.
PYTEST_WORKERS ?= 2

pytest: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS)

test: lint typecheck check-generated pytest

demo: $(BASE_STAMP)
	@$(PY) examples/run_demo.py

# The Django chat example (examples/django_chat) on the emulator, at http://127.0.0.1:8001/.
django-demo: $(STAMP)
	@$(PY) examples/django_chat/run_demo.py

emulator: $(BASE_STAMP)
	$(PY) -m assistants_client.emulator

# The guides in docs/ and the API reference from the docstrings, as HTML in site/ (mkdocs.yml).
docs: $(STAMP)
	$(PY) -m mkdocs build --strict

bench:
	test -x bench/.venv/bin/python || $(PYTHON) -m venv bench/.venv
	test bench/.venv/.installed -nt bench/requirements.txt -a bench/.venv/.installed -nt pyproject.toml || { \
		bench/.venv/bin/python -m pip install --quiet --upgrade pip && \
		bench/.venv/bin/python -m pip install --quiet -e . -r bench/requirements.txt && \
		touch bench/.venv/.installed; }
	bench/.venv/bin/python -m bench

clean:
	rm -rf $(VENV) bench/.venv node_modules build site *.egg-info
