# The two commands a newcomer runs: `make demo` and `make test`.
# Each creates .venv with `python3 -m venv` when it is missing and installs into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	@echo "== iamlint check: findings in the bundled example (exit status 1: there are findings) =="
	@# 1 is the expected answer here; 2 (an input or usage error) still fails the demo.
	$(BIN)/iamlint check fixtures/demo || test $$? -eq 1
	@echo
	@echo "== iamlint narrow: a least-privilege policy for OrdersFunction from its CloudTrail logs =="
	$(BIN)/iamlint narrow fixtures/demo/template.yaml --function OrdersFunction \
		--cloudtrail fixtures/demo/cloudtrail --session orders-fn --all-data-events --format yaml --explain

test: $(VENV)/.installed-test
	@# The HTML report tests open it in headless Chromium: install Debian's package when missing (as root).
	@test -x /usr/bin/chromium || [ "$$(id -u)" != 0 ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/managed_policies.py

clean:
	rm -rf $(VENV) build *.egg-info
