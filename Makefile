# Tether — see README.md.
GO       ?= go
BIN      := bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/tetherhq/tether/streams/version.Version=$(VERSION)
PKGS     := ./...

.PHONY: all build demo test bench bench-short lint fuzz policy-test clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./broker/cmd/tether-broker ./agent/cmd/tether-agent ./cli/cmd/tether

# The all-in-one demo: one broker, one local agent, and a shell on it through the broker.
demo: build
	$(BIN)/tether-broker dev

# Every test, with the race detector. Budget: well inside 30 minutes on 2 cores.
# Then the shipped policy's Rego tests once more, with OPA's own `opa test`.
test:
	$(GO) test -race -timeout 25m $(PKGS)
	$(MAKE) --no-print-directory policy-test

# Benchmarks: Go micro-benchmarks, then the end-to-end harness (real broker and agent
# processes), printed next to their references: sessions, then port forwarding (tether
# forward vs ssh -L vs direct TCP, scp through tether ssh-proxy vs ssh).
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./streams/wire/frame ./streams/wire/flow ./policies
	$(GO) test -run '^$$' -bench StartSession -benchtime 300x ./broker/brokerd
	$(GO) run ./broker/cmd/tether-bench -bin $(BIN)

# The end-to-end harness with small sizes and counts: a smoke run in well under a minute.
# Not part of `make test` (its own TestForwardSectionShort checks the harness works).
bench-short: build
	$(GO) run ./broker/cmd/tether-bench -bin $(BIN) -short

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# Run each fuzz target for a short while.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 30s ./streams/wire/frame
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 15s ./streams/wire/api
	$(GO) test -run '^$$' -fuzz '^FuzzPayloads$$' -fuzztime 15s ./streams/wire/fwd
	$(GO) test -run '^$$' -fuzz '^FuzzHandle$$' -fuzztime 30s ./streams/wire/fwd
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 30s ./broker/document
	$(GO) test -run '^$$' -fuzz '^FuzzResolve$$' -fuzztime 30s ./broker/document
	$(GO) test -run '^$$' -fuzz '^FuzzSplitWords$$' -fuzztime 15s ./broker/document
	$(GO) test -run '^$$' -fuzz '^FuzzDocumentRequest$$' -fuzztime 15s ./broker/control
	$(GO) test -run '^$$' -fuzz '^FuzzStartSessionRequest$$' -fuzztime 15s ./broker/control
	$(GO) test -run '^$$' -fuzz '^FuzzStartForwards$$' -fuzztime 15s ./broker/control
	$(GO) test -run '^$$' -fuzz '^FuzzForwardClosedRequest$$' -fuzztime 15s ./broker/control
	$(GO) test -run '^$$' -fuzz '^FuzzForwardOpenRequest$$' -fuzztime 15s ./broker/control
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime 15s ./broker/config
	$(GO) test -run '^$$' -fuzz '^FuzzControl$$' -fuzztime 15s ./agent/agent
	$(GO) test -run '^$$' -fuzz '^FuzzProcessRecord$$' -fuzztime 15s ./agent/agent
	$(GO) test -run '^$$' -fuzz '^FuzzConfig$$' -fuzztime 15s ./cli/config
	$(GO) test -run '^$$' -fuzz '^FuzzOutput$$' -fuzztime 15s ./cli/session
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime 15s ./streams/transcript
	$(GO) test -run '^$$' -fuzz '^FuzzStored$$' -fuzztime 15s ./streams/transcript
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime 15s ./streams/ship/cast
	$(GO) test -run '^$$' -fuzz '^FuzzRender$$' -fuzztime 15s ./streams/ship/cast
	$(GO) test -run '^$$' -fuzz '^FuzzDecrypt$$' -fuzztime 15s ./streams/ship/seal

# The shipped policy's Rego tests with OPA's own command (they also run in go test).
OPA_VERSION := $(shell $(GO) list -m -f '{{.Version}}' github.com/open-policy-agent/opa)
policy-test:
	$(GO) run github.com/open-policy-agent/opa@$(OPA_VERSION) test policies/ -v

clean:
	rm -rf $(BIN)
