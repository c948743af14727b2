# Two commands on a fresh machine (see README):
#   make book   – create .venv on first use, build the website, print the path of index.html
#   make test   – unit tests + nbval over every notebook + the book built with warnings as errors
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Quiet, deterministic execution everywhere (ntklib sets the TF variables too; these cover tools).
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0
export TQDM_DISABLE := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export JUPYTER_PLATFORM_DIRS := 1
# Anything that changes what a notebook computes invalidates the execution cache.
CACHE_KEY = $(shell cat requirements.txt ntklib/*.py | sha256sum | cut -c1-16)

.PHONY: env book test unit notebooks site-tests sync lock bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip==26.3"
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

env: $(STAMP)

_build/.cache-key: FORCE
	@mkdir -p _build
	@if [ "$$(cat $@ 2>/dev/null)" != "$(CACHE_KEY)" ]; then \
	  rm -rf _build/.jupyter_cache; echo "$(CACHE_KEY)" > $@; echo "execution cache reset (ntklib or requirements changed)"; fi
FORCE:

book: env _build/.cache-key
	$(BIN)/python tools/nbtool.py check-sync
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Book: $(CURDIR)/_build/html/index.html"

test: book
	$(BIN)/python -m pytest -p no:cacheprovider tests chapters --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg

unit: env
	$(BIN)/python -m pytest -p no:cacheprovider tests

notebooks: env
	$(BIN)/python -m pytest -p no:cacheprovider chapters --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg

sync: env
	$(BIN)/python tools/nbtool.py sync

lock: env
	(echo "# Exact lock of the tested environment (Python 3.11, CPU). Regenerate with: make lock"; \
	 $(BIN)/pip freeze --all --exclude-editable | grep -v '^-e' | sort -f) > requirements.txt

clean:
	rm -rf _build

bench: env
	$(BIN)/python benchmarks/run.py
