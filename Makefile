# Two commands for people: `make demo` and `make test`. Both build .venv when it is missing.
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: demo test check lint format sandbox clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/psflow demo

# three test processes, each file in one of them (its servers and fixtures are per process)
test: check $(CHROMIUM)
	$(BIN)/pytest -n 3 --dist loadfile

# The browser tests drive Debian's Chromium: Playwright's own browser download cannot be reached
# from these machines, Debian's package can. As root (CI) it is installed when missing.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	else \
	  echo "make test: the browser tests need Chromium at $@: sudo apt-get install chromium" >&2; \
	  exit 1; \
	fi

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

sandbox: $(STAMP)
	$(BIN)/psflow sandbox

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
