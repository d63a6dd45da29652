# The README's commands. Each does its own set-up on a fresh clone (`make install` is idempotent).
PYTHON_VENV := .venv/bin/python
DEMO_OUTPUT ?= output/demo
DEMO_DATA ?= datasets/synthetic_mots

.PHONY: install test lint demo clean

install:
	@bash tools/install.sh

lint: install
	$(PYTHON_VENV) -m ruff check .

test: lint
	$(PYTHON_VENV) -m pytest tests

demo: install
	@bash tools/demo.sh "$(DEMO_DATA)" "$(DEMO_OUTPUT)"

clean:
	rm -rf output .pytest_cache .ruff_cache
