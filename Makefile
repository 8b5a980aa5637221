# The whole developer workflow. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

.PHONY: demo test test-dated lint bench system-deps clean

# Virtualenv with the project, its dev tools and the demo's embedded broker (the tests
# use it too), pinned by constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,demo]'
	@rm -f $(VENV)/.installed-*; touch $@

# Mosquitto is the broker of production and of the tests, NATS Server the clustered one
# of the scale-out tests; Debian's Chromium runs the browser tests; PostgreSQL's
# binaries let the store tests start their own server.
# Install what is missing (as root), else say how.
SYSTEM_PACKAGES := faketime:/usr/bin/faketime mosquitto:/usr/sbin/mosquitto nats-server:/usr/sbin/nats-server mosquitto-clients:/usr/bin/mosquitto_pub chromium:/usr/bin/chromium postgresql:/usr/bin/pg_ctlcluster
system-deps:
	@missing=""; for entry in $(SYSTEM_PACKAGES); do \
	  pkg=$${entry%%:*}; bin=$${entry#*:}; [ -x "$$bin" ] || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing with apt-get"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing \
	      || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; }; \
	  else \
	    echo "missing system packages:$$missing -- run: sudo apt-get install$$missing"; exit 2; \
	  fi; \
	fi

demo: $(STAMP)
	$(BIN)/tryggbo demo

# Tests whose subject is dates and times (sign-in and tokens, schedules, retention,
# exports, invitations) run a second time with the wall clock a year ahead
# (libfaketime): nothing may depend on today's date. (Not the install-guide test: it
# builds a virtualenv with Debian's Python, slow and no matter of dates.)
DATE_SENSITIVE := tests/ops tests/auth tests/scheduler tests/unit tests/integration/calls/test_calls.py

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory test-dated

test-dated: $(STAMP) system-deps
	@faketime -f '+365d' date '+date-proof run: the wall clock reads %F'
	faketime -f '+365d' $(BIN)/python -m pytest -q -p no:cacheprovider $(DATE_SENSITIVE) \
	  --ignore=tests/ops/test_install_guide.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy controller devices config scheduler

bench: $(STAMP) system-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache .hypothesis
