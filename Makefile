# FusionFleet — a thin index of go commands. Everything builds with `go build` alone.

.PHONY: test vet unit demo build fuzz bench

# All tests: vet, then every package with the race detector. Tests that need an
# absent service (external NATS, PostgreSQL, Chromium) skip loudly, except under
# CI=true, where a missing service fails.
test: vet unit

vet:
	go vet ./...

unit:
	go test -race -count=1 -timeout 20m ./...

# The quick start: the whole system on loopback.
demo:
	go run ./cmd/fusionfleet demo

build:
	go build -o fusionfleet ./cmd/fusionfleet

# Run every fuzz target for a short while (FUZZTIME=30s by default).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$(go list ./...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Benchmarks print figures and ratios against a reference measured in the same run.
bench:
	go test -run '^$$' -bench . -benchmem ./...
