# 课程助教 — one-command set-up, run and test. See README.md.
#   make run    set everything up (venv, packages, fonts, browser) and start the tutor on embedded defaults
#   make test   set everything up and run the whole test suite
# TORCH picks the PyTorch build: the default pin installs the CPU build on the dev/CI machines (a local
# wheel); on a Linux machine with an NVIDIA GPU the same pin from PyPI is the CUDA build.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
HOST ?= 127.0.0.1
PORT ?= 7860
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test system-deps clean

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Fonts for Chinese labels in plots, Chromium for the browser tests. Installed with apt when we are
# root on Debian/Ubuntu and they are missing; otherwise a note says what to install.
system-deps:
	@missing=""; \
	fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing="$$missing fonts-noto-cjk"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "note: please install$$missing (Chinese plot labels and browser tests need them)"; \
	  fi; \
	fi

run: setup
	$(BIN)/tutor ingest
	$(BIN)/tutor serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache artifacts
