# Two commands for a new user: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PORTAL_HOME ?= $(CURDIR)/instance

.PHONY: run test install samples bench clean browser-deps

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

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# axe-core for the browser tests, from the lock file; only when npm is there (without it, or
# without /usr/bin/chromium, the browser tests skip and say why).
AXE := tests/browser/node_modules/axe-core/axe.min.js
browser-deps: $(AXE)
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null; then \
		(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error && \
			touch node_modules/axe-core/axe.min.js) || \
			echo "note: npm ci failed; the browser accessibility tests will be skipped"; \
	else \
		echo "note: npm not found; the browser accessibility tests will be skipped"; \
	fi

samples: $(STAMP)
	$(BIN)/python scripts/make_samples.py build/samples

clean:
	rm -rf $(VENV) build .pytest_cache tests/browser/node_modules
