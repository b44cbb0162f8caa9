# medic — make help lists the targets.

GO        ?= go
PKGS      ?= ./...
BIN       ?= bin/medic
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/medic-sh/medic/internal/cli.Version=$(VERSION)
GOLANGCI  ?= golangci-lint
FUZZTIME  ?= 20s

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/medic
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/medic

.PHONY: test
test: ## Vet and run every test with the race detector (CI runs this)
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

.PHONY: lint
lint: ## Run golangci-lint (install: go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0)
	$(GOLANGCI) run $(PKGS)

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 20s)
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

.PHONY: bench
bench: ## Run the Go benchmarks and the demo measurement
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	$(GO) run ./cmd/medic demo --once --json | tail -n 1

.PHONY: demo
demo: ## Run the demo (medic demo)
	$(GO) run ./cmd/medic demo

.PHONY: clean
clean: ## Remove build outputs and demo data
	rm -rf bin medic-demo.db medic-demo.db-wal medic-demo.db-shm medic-demo.db.lock medic-demo.db.demo
