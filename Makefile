# Two commands for a new user: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PORTAL_HOME ?= $(CURDIR)/instance

.PHONY: run test install samples bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Loads the sample collection the first time (when the data home has no catalogue yet).
run: $(STAMP)
	@if [ ! -f "$(PORTAL_HOME)/.samples-loaded" ]; then \
		$(BIN)/python scripts/make_samples.py build/samples && \
		$(BIN)/portal import build/samples/manifest.jsonl --publish && \
		touch "$(PORTAL_HOME)/.samples-loaded"; \
	fi
	$(BIN)/portal serve --host 127.0.0.1 --port 5000

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

samples: $(STAMP)
	$(BIN)/python scripts/make_samples.py build/samples

clean:
	rm -rf $(VENV) build .pytest_cache
