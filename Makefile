# Set-up and the two everyday commands. `make demo` and `make test` each create
# the virtual environment on first use (torch pinned to 2.13.0 only where no
# torch is installed, so a CPU machine never pulls CUDA wheels).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv --system-site-packages $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# Tools are run as `python -m …`: with --system-site-packages a tool that is
# already installed system-wide is not copied into $(BIN).
demo: $(STAMP)
	$(BIN)/python -m invimg demo --out demo-output --force

lint: $(STAMP)
	$(BIN)/python -m ruff check src tests benchmarks
	$(BIN)/python -m ruff format --check src tests benchmarks
	$(BIN)/python -m mypy

test: lint
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
