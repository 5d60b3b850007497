# Set-up and the two everyday commands. `make demo` and `make test` each create
# the virtual environment on first use (torch pinned to 2.13.0 only where no
# torch is installed, so a CPU machine never pulls CUDA wheels).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup browser demo test lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv --system-site-packages $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# The web page's end-to-end tests drive Debian's Chromium (no browser download).
# Installed once where missing and where apt-get may run (root, as in CI).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else echo "note: chromium missing and not root: the browser tests will be skipped"; fi; }

# Tools are run as `python -m …`: with --system-site-packages a tool that is
# already installed system-wide is not copied into $(BIN).
demo: $(STAMP)
	$(BIN)/python -m invimg demo --out demo-output --force

lint: $(STAMP)
	$(BIN)/python -m ruff check src tests benchmarks
	$(BIN)/python -m ruff format --check src tests benchmarks
	$(BIN)/python -m mypy

test: lint browser
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
