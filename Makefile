# Two entry points for a fresh machine: `make train` and `make test`.
# Both create .venv and install sentinet into it first (torch pinned: see README).

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
CONFIG ?= configs/banks_gru.yaml
# pytest-xdist workers for `make test`: one per core of the project's 2-core machines
TEST_JOBS ?= 2
# Data and vectors are looked for in data/, then ../shared beside the checkout, then the user data
# folder (README: Data and vectors); $SENTINET_DATA / $SENTINET_VECTORS, when you set them, instead.
# `make train` downloads the SentiRuEval-2016 files when they are nowhere (data/README.md).

BIN := $(VENV)/bin

.PHONY: install train test clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev,ru]"  # ru: natasha's wheel, which ships the navec vectors
	$(BIN)/python -m sentinet.models.build_kernel  # fused CPU kernels (SRU, recurrent inference), if a compiler is here
	touch $@

train: install
	$(BIN)/sentinet fetch --config $(CONFIG)  # finds the data and vectors, or downloads them (SENTINET_MIRROR: a mirror)
	$(BIN)/sentinet train --config $(CONFIG)

test: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist worksteal

clean:
	rm -rf $(VENV) .pytest_cache
