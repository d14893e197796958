# One entry point for people and CI. `make demo` and `make test` set everything up first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.seefood-installed

.PHONY: setup browser-deps demo test test-fast lint gpu-check clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch/torchvision come from the range in pyproject.toml (2.14.1 / 0.29.1 here, served from local disk)
	$(PY) -m pip install --quiet -e '.[all]'
	touch $(STAMP)

# the browser tests drive Debian's chromium through Playwright (CI runs `make test` as root with apt);
# without it they skip with a reason
browser-deps:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium missing and apt-get unusable here: the browser tests will skip"; fi; }

demo: setup
	$(VENV)/bin/seefood demo --out runs/demo --force

# one pytest process for the whole suite: DataLoader worker processes are the product's concern, not the
# Makefile's (seefood.workers.loader_workers; docs/architecture.md, "Worker processes")
test: setup browser-deps
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy

# on a machine with a CUDA GPU (see scripts/gpu_check.sh)
gpu-check:
	bash scripts/gpu_check.sh

clean:
	rm -rf runs/demo .pytest_cache
