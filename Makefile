# Quartermaster: `make run` starts the bot in your terminal, `make test` runs every test.
# Both create .venv and install everything first (again only when pyproject.toml changes).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/quartermaster run

test: install
	$(BIN)/ruff check bot nlu skills credentials tests bench
	$(BIN)/ruff format --check bot nlu skills credentials tests bench
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check bot nlu skills credentials tests bench
	$(BIN)/ruff format --check bot nlu skills credentials tests bench
	$(BIN)/mypy --strict bot nlu
	$(BIN)/mypy credentials skills

bench: install
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/nlu.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
