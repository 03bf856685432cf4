# fedcredit: two commands on a fresh machine with Python 3.11 -- `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all lint proto bench clean

# System library: libsodium >= 1.0.18 (ristretto255 for PSI), from Debian if missing.
SODIUM_OK := $(shell ldconfig -p 2>/dev/null | grep -q 'libsodium.so.23' && echo yes)
# Browser for the console tests (issue 18): Debian's chromium and its driver, never a download.
CHROMIUM_OK := $(shell test -x /usr/bin/chromium && test -x /usr/bin/chromedriver && echo yes)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { echo "need Python >= 3.11 (python3.11)"; exit 1; }
ifneq ($(SODIUM_OK),yes)
	@echo "installing libsodium23 (ristretto255 for PSI)"
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libsodium23; \
	 else sudo apt-get update -qq && sudo apt-get install -y -qq libsodium23; fi
endif
ifneq ($(CHROMIUM_OK),yes)
	@echo "installing chromium and chromium-driver (console browser tests)"
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei; \
	 else sudo apt-get update -qq && sudo apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei; fi
endif
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

# Benchmarks' extras (xgboost's federated baseline) only for `make bench`.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

demo: $(STAMP)
	$(PY) -m bank_node.demo $(if $(KEEP),--keep)

test: $(STAMP)
	$(PY) -m pytest -q

test-all: $(STAMP)
	$(PY) -m pytest -q -m ''

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy proto/transport platform_node bank_node models

proto: $(STAMP)
	$(PY) proto/generate.py

bench: $(BENCH_STAMP)
	for b in experiments/bench_*.py; do $(PY) $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info var demo-run
