// Package benchrun runs a benchmark harness under go test and outside it
// alike. A harness is written once against B: a thin Benchmark function
// hands it the *testing.B (Testing), and a program such as the bench
// command runs it with Run for a fixed number of operations and reads the
// figures it reported.
package benchrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// B is what a harness uses of a benchmark: the methods of *testing.B it
// calls, and N, the number of operations to run.
type B interface {
	Helper()
	Context() context.Context
	TempDir() string
	Cleanup(func())
	Logf(format string, args ...any)
	Error(args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	ReportMetric(n float64, unit string)
	ResetTimer()
	StartTimer()
	StopTimer()
	Elapsed() time.Duration
	Loop() bool
	N() int
}

// Testing is b as a B.
func Testing(b *testing.B) B { return testingB{b} }

type testingB struct{ *testing.B }

func (b testingB) N() int { return b.B.N }

// Result is what one run of a harness reported.
type Result struct {
	N       int
	Elapsed time.Duration      // timed part, as b.Elapsed
	Metrics map[string]float64 // by unit, as ReportMetric
	Logs    []string
}

// Run runs f as a benchmark of n operations and returns what it reported.
// A failure (Error, Fatal or a panic) is returned as an error carrying its
// messages, with the result as far as it came.
func Run(ctx context.Context, n int, f func(B)) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	r := &run{ctx: ctx, n: max(1, n), metrics: map[string]float64{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.cleanup(cancel)
		defer func() {
			if p := recover(); p != nil {
				r.fail(fmt.Sprintf("panic: %v\n%s", p, debug.Stack()))
			}
		}()
		r.StartTimer()
		f(r)
		r.StopTimer()
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	res := Result{N: r.n, Elapsed: r.elapsed, Metrics: r.metrics, Logs: r.logs}
	if r.failed {
		return res, errors.New(strings.Join(r.errs, "; "))
	}
	return res, nil
}

// run is a B outside go test.
type run struct {
	ctx context.Context
	n   int

	mu       sync.Mutex
	metrics  map[string]float64
	logs     []string
	errs     []string
	failed   bool
	cleanups []func()
	dirs     []string
	timing   bool
	started  time.Time
	elapsed  time.Duration
	loops    int
}

func (r *run) Helper()                  {}
func (r *run) Context() context.Context { return r.ctx }
func (r *run) N() int                   { return r.n }

func (r *run) TempDir() string {
	dir, err := os.MkdirTemp("", "fusionfleet-bench-")
	if err != nil {
		r.Fatal(err)
	}
	r.mu.Lock()
	r.dirs = append(r.dirs, dir)
	r.mu.Unlock()
	return dir
}

func (r *run) Cleanup(f func()) {
	r.mu.Lock()
	r.cleanups = append(r.cleanups, f)
	r.mu.Unlock()
}

// cleanup ends the context, then calls the cleanups, last first, and
// removes the temporary directories, as go test does.
func (r *run) cleanup(cancel context.CancelFunc) {
	cancel()
	for {
		r.mu.Lock()
		if len(r.cleanups) == 0 {
			r.mu.Unlock()
			break
		}
		f := r.cleanups[len(r.cleanups)-1]
		r.cleanups = r.cleanups[:len(r.cleanups)-1]
		r.mu.Unlock()
		func() {
			defer func() {
				if p := recover(); p != nil {
					r.fail(fmt.Sprintf("cleanup: panic: %v", p))
				}
			}()
			f()
		}()
	}
	r.mu.Lock()
	dirs := slices.Clone(r.dirs)
	r.mu.Unlock()
	for _, d := range dirs {
		os.RemoveAll(d)
	}
}

func (r *run) Logf(format string, args ...any) {
	r.mu.Lock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *run) fail(msg string) {
	r.mu.Lock()
	r.failed = true
	r.errs = append(r.errs, msg)
	r.mu.Unlock()
}

func (r *run) Error(args ...any)                 { r.fail(strings.TrimSuffix(fmt.Sprintln(args...), "\n")) }
func (r *run) Errorf(format string, args ...any) { r.fail(fmt.Sprintf(format, args...)) }

// Fatal fails the run and ends the harness's goroutine, as on go test:
// it must be called from the goroutine running the harness.
func (r *run) Fatal(args ...any) {
	r.Error(args...)
	runtime.Goexit()
}

func (r *run) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *run) ReportMetric(n float64, unit string) {
	r.mu.Lock()
	r.metrics[unit] = n
	r.mu.Unlock()
}

func (r *run) ResetTimer() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timing {
		r.started = time.Now()
	}
	r.elapsed = 0
	clear(r.metrics) // as testing.B.ResetTimer drops the metrics reported so far
}

func (r *run) StartTimer() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.timing {
		r.timing, r.started = true, time.Now()
	}
}

func (r *run) StopTimer() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timing {
		r.timing = false
		r.elapsed += time.Since(r.started)
	}
}

func (r *run) Elapsed() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timing {
		return r.elapsed + time.Since(r.started)
	}
	return r.elapsed
}

// Loop reports whether to run one more of the N operations, resetting the
// timer on its first call and stopping it after the last, as
// testing.B.Loop does.
func (r *run) Loop() bool {
	r.mu.Lock()
	first, more := r.loops == 0, r.loops < r.n
	r.loops++
	r.mu.Unlock()
	if first {
		r.ResetTimer()
	}
	if !more {
		r.StopTimer()
	}
	return more
}
