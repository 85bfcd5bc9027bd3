# Keyless — run `make help` for the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -o errexit -o nounset -o pipefail -c

GO ?= go
BIN := $(CURDIR)/bin
ASSETS ?= $(BIN)/control-plane
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/keyless-dev/keyless/pkg/app.Version=$(VERSION) -X github.com/keyless-dev/keyless/pkg/app.Commit=$(COMMIT)
FUZZTIME ?= 5m
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/keyless (the released binary) and bin/keyless-dev (the local development environment, with the cloud simulators).
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/keyless ./cmd/keyless
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/keyless-dev ./cmd/keyless-dev

.PHONY: kubectl-plugin
kubectl-plugin: ## Build bin/kubectl-keyless, the kubectl plugin (`kubectl keyless status`); put it on $PATH.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/kubectl-keyless ./cmd/kubectl-keyless

.PHONY: control-plane
control-plane: ## Build the local cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) into bin/control-plane (first time ~12-20 min).
	KEYLESS_ASSETS_DIR=$(ASSETS) ./hack/control-plane.sh >/dev/null

.PHONY: dev
dev: control-plane build ## Run Keyless on a local control plane with the examples applied (bin/keyless-dev).
	$(BIN)/keyless-dev --assets $(ASSETS)

.PHONY: test
test: control-plane ## Run vet, the format check, unit tests, fuzz seeds and the end-to-end tests.
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	KUBEBUILDER_ASSETS=$(ASSETS) $(GO) test -count=1 ./...
	$(MAKE) test-monitoring

.PHONY: test-monitoring
test-monitoring: ## Check the chart's alerts and dashboard with Prometheus's rule and PromQL parsers (own module).
	cd test/monitoring && $(GO) vet ./... && $(GO) test -count=1 ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (.golangci.yml) on both modules; installs the pinned version into bin/.
	$(GOLANGCI_LINT) run ./...
	cd test/monitoring && $(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/golangci-lint $@

.PHONY: manifests
manifests: ## Render deploy/install.yaml from the Helm chart deploy/chart/keyless.
	$(GO) test ./deploy -run TestInstallManifestInSync -update

.PHONY: check-digests
check-digests: ## Fail unless the Dockerfile's and deploy/install.yaml's images are pinned by digest (before a release).
	$(GO) test ./deploy -run TestImagesPinnedByDigest -count=1 -require-digests

.PHONY: fuzz
fuzz: ## Run each fuzzer for FUZZTIME (default 5m); their seeds run in `make test`.
	$(GO) test ./pkg/annotations -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/admission -run '^$$' -fuzz FuzzHandler -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/admission -run '^$$' -fuzz FuzzDecodeAsEncodingJSON -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/admission -run '^$$' -fuzz FuzzDecodeAsTheAPIServer -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/mutation -run '^$$' -fuzz FuzzForWorkload -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/policy -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) -fuzzminimizetime 3s
	$(GO) test ./pkg/policy -run '^$$' -fuzz FuzzMatch -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/cloud/azure -run '^$$' -fuzz FuzzCredentialName -fuzztime $(FUZZTIME)

.PHONY: mutants
mutants: ## Mutation testing of the decision code, one package at a time (slow: hours; docs/testing.md). PKGS=pkg/policy for one.
	KUBEBUILDER_ASSETS=$(ASSETS) ./hack/mutants.sh $(PKGS)

.PHONY: soak
soak: control-plane ## Chaos soak (500 connections, 10 kills) and leader failover (docs/reliability.md).
	$(GO) run ./test/soak --resync-period=5m
	$(GO) run ./test/soak --mode=failover

.PHONY: bench
bench: ## Run the admission Go benchmarks and the TLS load benchmark against the floor (docs/benchmarks.md).
	$(GO) test ./pkg/admission -run '^$$' -bench . -benchmem -count 4
	$(GO) run ./test/load run -duration 5s -warmup 1s -rounds 3

.PHONY: scale
scale: control-plane ## Controller at 5,000 connections; memory, start-up and admission with 5,000 and 50,000 ServiceAccounts and Deployments (docs/benchmarks.md; the 50,000 run takes ~20 min).
	$(GO) run ./test/scale --mode=scale --connections=5000 --qps=20 --skip-resync --resync-period=10m
	$(GO) run ./test/scale --mode=scale --connections=5000 --qps=50 --kube-api-qps=200 --resync-period=3m
	$(GO) run ./test/scale --mode=scale --connections=3000 --identity-layout=grouped --qps=20 --kube-api-qps=200 --resync-period=3m
	$(GO) run ./test/scale --mode=memory --settle=15s --max-hwm=150
	$(GO) run ./test/scale --mode=heap --serviceaccounts=10000 --deployments=10000 --annotated=600 \
		--create-workers=16 --settle=10s --heap-profile=$(BIN)/heap-10k.pprof
	$(GO) test ./pkg/manager -run '^$$' -bench BenchmarkCachedObject -benchtime 3x
	$(GO) build -o $(BIN)/load ./test/load
	$(BIN)/load run -duration 3s -warmup 1s -rounds 10 -cache-objects 50000
	$(GO) run ./test/scale --mode=memory --serviceaccounts=50000 --deployments=50000 --annotated=3000 \
		--create-workers=16 --settle=20s --container-limit=320
	$(GO) run ./test/scale --mode=latency

.PHONY: clean
clean: ## Remove bin/ (the control plane is rebuilt on the next run).
	rm -rf $(BIN)
