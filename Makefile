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
# (all of ntklib, subpackages included: ntklib/experiments computes most figures)
CACHE_KEY = $(shell cat requirements.txt $$(find ntklib -name '*.py' | LC_ALL=C sort) | sha256sum | cut -c1-16)

.PHONY: env chromium book test unit notebooks site-tests sync lock bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip==26.3"
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

env: $(STAMP) chromium

# Debian's Chromium for the browser tests (tests/test_site.py); a no-op when it is installed.
# Without apt-get (or rights to use it) this only warns: the site tests then fail and say how to install it.
chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  export DEBIAN_FRONTEND=noninteractive; \
	  ( $$SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; } ) \
	  || echo "warning: could not install chromium (apt-get install -y chromium); the site tests will fail"; }

_build/.cache-key: FORCE
	@mkdir -p _build
	@if [ "$$(cat $@ 2>/dev/null)" != "$(CACHE_KEY)" ]; then \
	  rm -rf _build/.jupyter_cache; echo "$(CACHE_KEY)" > $@; echo "execution cache reset (ntklib or requirements changed)"; fi
FORCE:

book: env _build/.cache-key
	$(BIN)/python tools/nbtool.py check-sync
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Book: $(CURDIR)/_build/html/index.html"

# The site tests (marker `site`, tests/test_site.py) run against the book built just before.
test: book
	$(BIN)/python -m pytest -p no:cacheprovider tests chapters --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg

unit: env
	$(BIN)/python -m pytest -p no:cacheprovider tests -m "not site"

site-tests: book
	$(BIN)/python -m pytest -p no:cacheprovider tests -m site

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

# Colab's current runtime (Python 3.13 and the versions in colab/runtime-2026-08.txt) emulated in
# _build/colab-venv: runs the stored setup cell there, then executes copies of chapters 2 and 4 and
# checks their claims (needs Python 3.13 and PyPI; a few minutes). See tools/colab_runtime.py.
COLAB_CHAPTERS ?= chapters/02_ntk.ipynb chapters/04_gronwall.ipynb
.PHONY: colab
colab:
	$(PYTHON) tools/colab_runtime.py $(COLAB_CHAPTERS)
