# The README's commands. Each does its own set-up on a fresh clone (`make install` is idempotent).
PYTHON_VENV := .venv/bin/python
DEMO_OUTPUT ?= output/demo
DEMO_DATA ?= datasets/synthetic_mots

.PHONY: install test test-random mutation lint demo clean

# An editable install compiles no bytecode, and where PYTHONDONTWRITEBYTECODE is set Python never
# caches it: without this, every command would compile the package again at start (about 20 ms
# of the evaluator's 0.65 s). compileall skips what is up to date.
install:
	@bash tools/install.sh
	@$(PYTHON_VENV) -m compileall -q trackrcnn_d2

lint: install
	$(PYTHON_VENV) -m ruff check .

test: lint
	$(PYTHON_VENV) -m pytest tests

# The tests in a random order (pytest-randomly, which setup.cfg turns off for `make test`): they
# must pass in any order. The run prints its seed; `make test-random SEED=<seed>` repeats it.
SEED ?= default
test-random: install
	$(PYTHON_VENV) -m pytest -p randomly --randomly-seed=$(SEED) tests

# Mutation testing (tools/mutation.py) of the tracker, the metrics, the sampler and MOTS files,
# the RLE codec and the model's heads: how many small seeded bugs the tests catch. Not part of
# `make test` (an hour or more on two cores); AREA=tracking (or data, evaluation, rle, modeling)
# runs one area. Results accumulate in output/mutation/ (an interrupted run continues).
mutation: install
	$(PYTHON_VENV) tools/mutation.py $(if $(AREA),--area $(AREA))

demo: install
	@bash tools/demo.sh "$(DEMO_DATA)" "$(DEMO_OUTPUT)"

clean:
	rm -rf output .pytest_cache .ruff_cache
