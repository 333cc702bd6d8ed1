package site_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/fusionfleet/fusionfleet/internal/sitebench"
)

// BenchmarkFreshness runs sitebench.Freshness, whose comment says what it
// measures:
//
//	go test -run '^$' -bench Freshness -benchtime 1x ./internal/site
//
// FUSIONFLEET_BENCH_SECONDS sets how long it watches (default 180 s, after
// a first minute not counted); FUSIONFLEET_BENCH_PRIORITY_DELAY (a Go
// duration) sets the Command Center's PriorityDelay instead of its default.
func BenchmarkFreshness(b *testing.B) {
	o := sitebench.FreshnessOptions{PriorityDelay: priorityDelay()}
	if v, err := strconv.Atoi(os.Getenv("FUSIONFLEET_BENCH_SECONDS")); err == nil && v > 0 {
		o.Window = time.Duration(v) * time.Second
	}
	sitebench.Freshness(benchrun.Testing(b), o)
}

// BenchmarkSiteUplinkBytes runs sitebench.UplinkBytes, whose comment says
// what it measures:
//
//	go test -run '^$' -bench SiteUplinkBytes -benchtime 1x ./internal/site
//
// FUSIONFLEET_BENCH_HOURS sets the simulated hours counted (default 3);
// FUSIONFLEET_BENCH_PRIORITY_DELAY (a Go duration) sets the Command
// Center's PriorityDelay instead of its default.
func BenchmarkSiteUplinkBytes(b *testing.B) {
	o := sitebench.UplinkOptions{PriorityDelay: priorityDelay()}
	if v, err := strconv.ParseFloat(os.Getenv("FUSIONFLEET_BENCH_HOURS"), 64); err == nil && v > 0 {
		o.Hours = v
	}
	sitebench.UplinkBytes(benchrun.Testing(b), o)
}

func priorityDelay() time.Duration {
	d, _ := time.ParseDuration(os.Getenv("FUSIONFLEET_BENCH_PRIORITY_DELAY"))
	return d
}
