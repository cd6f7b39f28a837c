# k3s_gpu.node development entry point. Every target runs what it depends on,
# so `make test` alone works on a fresh machine (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0
export ANSIBLE_NOCOLOR := 1
STAGE := scripts/stage.sh

.PHONY: help system-deps setup lock lint sanity unit lab-images kube-bins mirror lab-tests integration reliability reliability-doc molecule build demo test bench clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

system-deps: ## Install the Debian packages the lab and the builds need (as root), or name them
	@$(STAGE) system-deps scripts/system-deps.sh

setup: system-deps ## Project virtualenv (cached, pinned) and the collection on the collections path
	@$(STAGE) setup scripts/setup-venv.sh

lock: ## Re-pin tests/constraints.txt from tests/requirements-dev.txt
	python3 -m venv .tmp/lock-venv && .tmp/lock-venv/bin/pip install -q -r tests/requirements-dev.txt
	.tmp/lock-venv/bin/pip freeze | grep -v '^pip==' > tests/constraints.txt

lint: setup ## ansible-lint (production), yamllint, antsibull-changelog lint, argument specs
	@$(STAGE) lint scripts/lint.sh

sanity: setup ## ansible-test sanity, offline, on a temporary collection tree
	@$(STAGE) sanity scripts/sanity.sh

unit: setup ## pytest unit tests (parsers, modules) and go test of the lab's Go stand-ins
	@$(STAGE) unit scripts/pytest.sh unit tests/unit
	@$(STAGE) unit-go scripts/gotest.sh

lab-images: setup ## Debian 12/13 systemd images for podman (cached)
	@$(STAGE) lab-images tests/lab/images.sh all

kube-bins: system-deps ## kube-apiserver, etcd and helm built from pinned Go modules (cached)
	@$(STAGE) kube-bins tests/lab/kube/build.sh

mirror: setup ## Build the vendor mirror tree with its stand-ins (cached)
	@$(STAGE) mirror tests/lab/mirror/build.sh

lab-tests: setup lab-images kube-bins mirror ## The lab's self-tests (tests/lab/tests: the kube harness, the mirror, the stand-ins, the set-up scripts)
	@$(STAGE) lab-tests scripts/pytest.sh lab-tests tests/lab/tests

integration: setup lab-images kube-bins mirror ## The collection against the real kube-apiserver, the lab and the mirror
	@$(STAGE) integration scripts/pytest.sh integration tests/integration

reliability: setup lab-images kube-bins mirror ## Bad inputs, injected faults and leak checks (a complete run writes .tmp/reliability/results.json; no tracked file)
	@$(STAGE) reliability scripts/pytest.sh reliability tests/reliability

reliability-doc: setup ## Render docs/reliability.md from the last complete reliability run (.tmp/reliability/results.json)
	@python scripts/reliability-doc.py

molecule: setup lab-images mirror ## Every molecule scenario on Debian systemd containers
	@$(STAGE) molecule scripts/molecule.sh

build: setup ## Build the collection tarball, install it cleanly, check docs and playbooks
	@$(STAGE) build scripts/build.sh

demo: setup lab-images kube-bins mirror ## Run site.yml twice on the local lab (second run: changed=0)
	@$(STAGE) demo scripts/demo.sh

test: ## All checks: lint, sanity, unit, build, molecule, lab-tests, reliability, integration, demo
	@scripts/test.sh

bench: setup lab-images kube-bins mirror ## Benchmarks (print figures; no pass/fail on speed)
	@for b in bench/*.sh; do echo "== $$b"; $$b; done

clean: ## Remove build outputs (caches under ~/.cache/k3s-gpu-node stay)
	rm -rf .build .tmp tests/output k3s_gpu-node-*.tar.gz
