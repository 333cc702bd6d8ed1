package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestTransientSetup(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"the API's deadline", context.Background(), fmt.Errorf("create stream: %w", context.DeadlineExceeded), true},
		{"request timeout", context.Background(), nats.ErrTimeout, true},
		{"no responders", context.Background(), nats.ErrNoResponders, true},
		{"no response from stream", context.Background(), jetstream.ErrNoStreamResponse, true},
		{"no peers for placement", context.Background(), &jetstream.APIError{Code: 400, ErrorCode: 10005, Description: "no suitable peers for placement"}, true},
		{"temporarily unavailable", context.Background(), &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		{"another 503", context.Background(), &jetstream.APIError{Code: 503, ErrorCode: 10999}, true},
		{"JetStream not enabled", context.Background(), jetstream.ErrJetStreamNotEnabled, false},
		{"JetStream not enabled for the account", context.Background(), &jetstream.APIError{Code: 503, ErrorCode: jetstream.JSErrCodeJetStreamNotEnabledForAccount}, false},
		{"replicas on a single server", context.Background(), &jetstream.APIError{Code: 500, ErrorCode: 10074, Description: "replicas > 1 not supported in non-clustered mode"}, false},
		{"refused rights", context.Background(), nats.ErrPermissionViolation, false},
		{"ctx ended", canceled, context.DeadlineExceeded, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := transientSetup(tt.ctx, tt.err); got != tt.want {
				t.Errorf("transientSetup(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// A cluster that cannot answer yet is asked again, with growing waits,
// until it answers, until a refusal for good, until the patience runs
// out, or until ctx ends.
func TestRetrySetup(t *testing.T) {
	unavailable := &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}
	refused := &jetstream.APIError{Code: 500, ErrorCode: 10074, Description: "replicas > 1 not supported in non-clustered mode"}
	tests := []struct {
		name      string
		fails     []error // the tries' errors, then success
		patience  time.Duration
		cancelAt  time.Duration // ctx ends this long after the start; 0: never
		wantTries int
		wantTook  time.Duration
		wantErr   string // "" → success
	}{
		{"at once", nil, time.Minute, 0, 1, 0, ""},
		{"after a leader election", []error{context.DeadlineExceeded, unavailable, nats.ErrNoResponders}, time.Minute, 0, 4, 3500 * time.Millisecond, ""},
		{"refused for good", []error{refused}, time.Minute, 0, 1, 0, "not supported"},
		{"refused after a wait", []error{unavailable, refused}, time.Minute, 0, 2, 500 * time.Millisecond, "not supported"},
		{"patience runs out", repeat(unavailable, 100), 10 * time.Second, 0, 5, 7500 * time.Millisecond, "gave up after 10s"},
		{"ctx ends", repeat(unavailable, 100), time.Minute, 2 * time.Second, 3, 2 * time.Second, "temporarily unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				if tt.cancelAt > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.cancelAt)
					defer cancel()
				}
				start := time.Now()
				tries := 0
				err := retrySetup(ctx, slog.New(slog.DiscardHandler), "create stream X", tt.patience, func(context.Context) error {
					tries++
					if tries <= len(tt.fails) {
						return tt.fails[tries-1]
					}
					return nil
				})
				if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
					t.Errorf("retrySetup = %v, want error %q", err, tt.wantErr)
				}
				if tries != tt.wantTries {
					t.Errorf("%d tries, want %d", tries, tt.wantTries)
				}
				if took := time.Since(start); took != tt.wantTook {
					t.Errorf("took %v, want %v", took, tt.wantTook)
				}
			})
		})
	}
}

func repeat(err error, n int) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// The error of a retry that gave up still says what failed.
func TestRetrySetupWraps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := retrySetup(t.Context(), slog.New(slog.DiscardHandler), "create consumer c", time.Second, func(context.Context) error { return nats.ErrTimeout })
		if !errors.Is(err, nats.ErrTimeout) || !strings.Contains(err.Error(), "create consumer c") {
			t.Errorf("retrySetup = %v, want the timeout, naming the consumer", err)
		}
	})
}
