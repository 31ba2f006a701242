# Thin wrappers; every target sets up .venv first (torch 2.13.0 CPU wheel, then zoo, zoo-export and
# the example plugin). Override PYTHON to use another interpreter. Only the package index is used: the
# `accelerate` console script then needs a torchvision that loads with this torch (docs/install.md); the
# same launcher runs as `python -m accelerate.commands.launch` without one.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.zoo-installed

.PHONY: install demo test test-all bench gpu-check weights lint clean

$(STAMP): pyproject.toml export/pyproject.toml plugins/zoo-example-vae/pyproject.toml requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]' -e './export[openvino]' -e ./plugins/zoo-example-vae
	$(BIN)/pip install --quiet --no-deps -r requirements-test.txt
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/zoo demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	ZOO_RUN_SLOW=1 $(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks -q --benchmark-only --benchmark-json=benchmarks/results/latest.json

gpu-check: $(STAMP)
	$(BIN)/python scripts/gpu_check.py --out benchmarks/results/gpu-check.md

weights: $(STAMP)
	$(BIN)/python scripts/train_default.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
