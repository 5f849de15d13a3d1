# Two commands do everything on a fresh machine: `make stats` (the main job) and `make test`.
# Both create the virtual environment and install the project the first time.

PYTHON ?= python3
VENV ?= .venv
DATA ?= ../shared/datasets
# The CPU build of torch; pinned first so that no other requirement pulls a CUDA build.
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: install stats test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

stats: install
	$(BIN)/bfer data stats $(DATA)/fer2013

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: install
	$(BIN)/python benchmarks/cache_speed.py --data $(DATA)/fer2013
	$(BIN)/python benchmarks/train_throughput.py --set data.train=$(DATA)/fer2013

clean:
	rm -rf $(VENV) build *.egg-info
