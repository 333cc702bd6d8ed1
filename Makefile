# FusionFleet — a thin index of go commands. Everything builds with `go build` alone.

.PHONY: test vet unit fuzz-brief demo build fuzz bench

# All tests: vet, every package with the race detector, then every fuzz target
# for a few seconds. Tests that need an absent service (external NATS,
# PostgreSQL, Chromium) skip loudly, except under CI=true, where a missing
# service fails.
test: vet unit fuzz-brief

vet:
	go vet ./...

unit:
	go test -race -count=1 -timeout 20m ./...

# Every fuzz target (decoders of another party's bytes) for FUZZTIME each.
FUZZTIME ?= 3s
fuzz-brief:
	@FUZZTIME=$(FUZZTIME) ./scripts/fuzz-all

# The same, for longer: make fuzz FUZZTIME=5m
fuzz: fuzz-brief

# The quick start: the whole system on loopback.
demo:
	go run ./cmd/fusionfleet demo

build:
	go build -o fusionfleet ./cmd/fusionfleet

# Benchmarks print figures and ratios against a reference measured in the same run.
bench:
	go test -run '^$$' -bench . -benchmem ./...
