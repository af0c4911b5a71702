# Quartermaster: `make run` starts the bot in your terminal, `make test` runs every test.
# Both create .venv and install everything first (again only when pyproject.toml changes).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# libvirt-python has no wheels: pip builds it against the system libvirt (Debian: these packages)
LIBVIRT_DEBS := libvirt-dev pkg-config
# The tests on real libvirt storage (tests/test_provider_libvirt_images.py) also want a daemon,
# qemu-img and QEMU; they skip without them (fail under CI=true; .ci/run installs them):
#     sudo apt-get install --no-install-recommends libvirt-daemon qemu-utils qemu-system-x86

.PHONY: install run test lint bench clean system-deps

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Before pip: the libvirt headers (and a C compiler) must be there, or pip fails mid-build with a
# compiler error. As root with apt-get they are installed; otherwise make stops with the command.
system-deps:
	@missing=""; \
	pkg-config --exists libvirt 2>/dev/null || missing=" $(LIBVIRT_DEBS)"; \
	command -v cc >/dev/null 2>&1 || missing="$$missing gcc"; \
	$(PYTHON) -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("include"), "Python.h")))' \
	  || missing="$$missing python3-dev"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing$$missing for libvirt-python (apt-get)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing; } \
	      || exit 1; \
	    pkg-config --exists libvirt || { echo "pkg-config still finds no libvirt" >&2; exit 1; }; \
	  else \
	    echo "libvirt-python needs the libvirt headers to build. Run this, then make again:" >&2; \
	    echo "    sudo apt-get install$$missing" >&2; \
	    echo "(Fedora/RHEL: sudo dnf install libvirt-devel pkgconf-pkg-config gcc python3-devel)" >&2; \
	    exit 1; \
	  fi; \
	fi

run: install
	$(BIN)/quartermaster run

test: install
	$(BIN)/ruff check bot nlu skills credentials tests bench
	$(BIN)/ruff format --check bot nlu skills credentials tests bench
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check bot nlu skills credentials tests bench
	$(BIN)/ruff format --check bot nlu skills credentials tests bench
	$(BIN)/mypy --strict bot nlu
	$(BIN)/mypy credentials skills

bench: install
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/nlu.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
