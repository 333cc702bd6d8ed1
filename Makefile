# FusionFleet — a thin index of go commands. Everything builds with `go build` alone.

.PHONY: test vet unit fuzz-brief demo build fuzz bench bench-quick docs release release-check cross

# All tests: vet, every fuzz target for a few seconds, then every package with
# the race detector. Tests that need an absent service (external NATS,
# PostgreSQL, Chromium, sslscan) skip, except under CI=true, where a missing
# service fails; the unit tests come last so that the list of skipped tests
# ends the output; then a quick run of every benchmark scenario, so that none
# rots.
test: vet fuzz-brief unit bench-quick

vet:
	go vet ./...

# go test's usual output, then every skipped test and its reason; the exit
# status is go test's. The whole-system packages — the command, whose tests
# run the demo, the scoring and the soak's short form (TestSoakShort, about
# 35 s: two simulated days of ten printers with retention), and e2e, which starts the built binary —
# run without the race detector, which makes their simulated fleets five to
# ten times slower (under it they were the run's two longest packages, 390
# and 200 s), and so do the store's query-plan tests on SQLite with their
# synthetic fleet of 10,000 printers (four minutes under it; they skip
# there). Every package runs with the race detector.
SYSTEM := ./cmd/fusionfleet ./e2e
unit:
	go run ./scripts/gotest -count=1 -timeout 20m $(SYSTEM) \
		then -count=1 -run 'Indexes$$/sqlite' ./internal/store \
		then -race -count=1 -timeout 20m $$(go list ./... | grep -v -e '/cmd/fusionfleet$$' -e '/e2e$$')

# Every fuzz target (decoders of another party's bytes) for FUZZTIME each: a
# second each in make test (54 targets), a smoke test on top of the seed
# corpora every go test runs; make fuzz runs longer.
FUZZTIME ?= 1s
fuzz-brief:
	@FUZZTIME=$(FUZZTIME) ./scripts/fuzz-all

# The same, for longer: make fuzz FUZZTIME=5m
fuzz: fuzz-brief

# The quick start: the whole system on loopback.
demo:
	go run ./cmd/fusionfleet demo

build:
	go build -o fusionfleet ./cmd/fusionfleet

# Rewrite the generated docs (API references, the privacy data lists,
# troubleshooting) from the code; the unit tests fail while they are stale.
docs:
	go test -count=1 ./internal/docgen -update

# Release binaries for linux/amd64, linux/arm64 and windows/amd64, CGO-free
# and reproducible, with dist/SHA256SUMS: make release VERSION=v1.2.3
# (default: git describe). release-check builds twice with separate caches
# and compares (minutes: not part of make test).
release:
	VERSION=$(VERSION) ./scripts/release

release-check:
	VERSION=$(VERSION) ./scripts/release -check

# Compile and link every release platform, writing nothing: the CI's check
# that Windows and arm64 still build.
cross:
	VERSION=ci ./scripts/release -n

# Every benchmark scenario, small (under a minute): fails only when a
# scenario fails, not when a figure misses its target (misses are listed).
# FUSIONFLEET_BENCH_POSTGRES=URL adds the PostgreSQL scenarios.
bench-quick:
	go run ./cmd/fusionfleet bench -quick

# Benchmarks print figures and ratios against a reference measured in the same run.
# `go run ./cmd/fusionfleet bench` runs the scenarios of the README's table.
bench:
	go test -run '^$$' -bench . -benchmem ./...
