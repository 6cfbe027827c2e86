# One-command set-up and test. `make setup` is idempotent: it installs only what is missing.
VENV        := .venv
PYTHON      := $(VENV)/bin/python
SYSTEM_PYTHON ?= python3
# What building bonsai and running the tests need from Debian.
APT_PACKAGES := gcc python3-dev libldap2-dev libsasl2-dev slapd ldap-utils
SETUP_STAMP := $(VENV)/.setup-done

.PHONY: setup test demo bench clean

setup: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml Makefile
	@missing=""; for pkg in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	test -x $(PYTHON) || $(SYSTEM_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -e '.[sandbox,test,bench]'
	touch $@

# The type check runs before the tests (pyproject.toml's [tool.mypy]: the whole package, strict on
# config/, engine/ and records.py).
test: setup
	$(PYTHON) -m mypy
	$(PYTHON) -m pytest

demo: setup
	$(PYTHON) -m async_usersync.demo

bench: setup
	for script in ldap_read push adobe_read sandbox_throughput engine_planner log_stall; do \
	  $(PYTHON) benchmarks/$$script.py || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
