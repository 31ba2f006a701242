# Thin wrappers; every target sets up .venv first (torch 2.13.0 CPU wheel, then zoo, zoo-export and
# the example plugin). Override PYTHON to use another interpreter. torchvision 0.28.0 (the pair of torch
# 2.13.0) comes from PyTorch's CPU index for a CPU torch, else from PyPI: timm imports it, and the
# `accelerate` CLI imports timm; one that does not load is removed (zoo's timm layers work without it).
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
	$(BIN)/python -c "import torchvision" 2>/dev/null || $(BIN)/pip install --quiet --no-deps torchvision==0.28.0 \
	    $$($(BIN)/python -c "import torch; print('' if torch.version.cuda else '--index-url https://download.pytorch.org/whl/cpu')") \
	    || echo "make: no torchvision for this torch: use 'python -m accelerate.commands.launch' (docs/install.md)"
	$(BIN)/python -c "import torchvision" 2>/dev/null || $(BIN)/pip uninstall --quiet --yes torchvision
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
