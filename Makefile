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

# three pytest processes instead of one: the heavy backends (torch, OpenVINO, NNCF, ONNX Runtime, gradio)
# keep thread pools and caches for the life of a process; a group per stage keeps each process small
GROUP1 := tests/data tests/models tests/train tests/cli tests/bench
GROUP2 := tests/export tests/runtimes tests/prune
GROUP3 := tests/space
test: setup browser-deps
	@for d in tests/*/; do case " $(GROUP1) $(GROUP2) $(GROUP3) " in *" $${d%/} "*) ;; \
	  *) echo "$${d%/} is in no test group of the Makefile: add it"; exit 1;; esac; done
	$(PY) -m pytest -q $(GROUP1)
	$(PY) -m pytest -q $(GROUP2)
	$(PY) -m pytest -q $(GROUP3)

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
