# The two quick-start commands (README): `make demo` and `make test`.
# Both create .venv on first use with the project's own pinned-by-range dependencies.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PROJECT ?= demo-project
DEMO_ARGS ?=

.PHONY: install demo test lint typecheck unit clean

$(BIN)/gnomon: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	# PyTorch through pip first: pip honours the machine's wheel folders (a CPU build where one
	# is provided), which uv does not look in; uv then finds torch installed and keeps it.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e ".[dev]"
	touch $(BIN)/gnomon

install: $(BIN)/gnomon

demo: install
	$(BIN)/gnomon demo --project $(PROJECT) $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# DuckDB's Python bindings report "nanobind: leaked ..." at interpreter exit (a known issue of the
# bindings, harmless); those lines are dropped so that pytest's summary stays the last line.
test: lint typecheck
	bash -o pipefail -c '$(BIN)/pytest -q -p no:cacheprovider 2>&1 | grep -v -E "^(nanobind: | - leaked | - \.\.\. skipped remainder|See https://nanobind)"' 

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(PROJECT)
