# Verbs: `make run` starts a cluster, `make test` checks and tests everything.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= data

.PHONY: run test unit lint bench setup setup-etcd setup-old-kubectl clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(BIN)/.installed

# The etcd driver's tests start a real etcd; install it when we may (root).
setup-etcd:
	@if [ "$$(id -u)" = 0 ]; then command -v etcd >/dev/null || (apt-get update -qq && apt-get install -y -qq etcd-server etcd-client); fi

# Debian's kubectl (1.20), unpacked in the venv, for the tests of what older clients
# need (SPDY streams, the protobuf OpenAPI v2 document). Without it those tests skip.
OLD_KUBECTL := $(VENV)/debian-kubectl/usr/bin/kubectl
setup-old-kubectl: $(OLD_KUBECTL)
$(OLD_KUBECTL):
	@tmp=$$(mktemp -d) && cd $$tmp && \
	{ apt-get download -qq kubernetes-client >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get download -qq kubernetes-client; }; } && \
	dpkg -x kubernetes-client_*.deb $(CURDIR)/$(VENV)/debian-kubectl; \
	rm -rf $$tmp; test -x $(CURDIR)/$@ || echo "no Debian kubernetes-client: the old-kubectl tests will skip"

run: setup
	$(BIN)/tinykube up --data-dir $(DATA)

lint: setup
	$(BIN)/ruff format --check tinykube tests bench
	$(BIN)/ruff check tinykube tests bench
	$(BIN)/lint-imports

test: lint setup-etcd setup-old-kubectl
	$(BIN)/pytest -q tests

unit: setup
	$(BIN)/pytest -q tests/unit

bench: setup
	$(BIN)/python -m bench.api

clean:
	rm -rf $(VENV) $(DATA)
