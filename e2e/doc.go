// Package e2e holds whole-system tests: the real fusionfleet binary, built
// once for all of them, started as processes, watched in a real browser and
// killed at random moments; and checks of the repository's own
// architecture rules (package comments, import boundaries between the
// tiers).
//
// These tests run on real time, so every wait is a check of a condition
// with a generous limit (package wait), never a fixed sleep. The crash test
// logs the seed of its random moments; `go test ./e2e -run
// TestCrashSafeDelivery -seed N` (or FUSIONFLEET_CRASH_SEED=N) replays it.
package e2e
