package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

type fakeStore struct {
	seen map[uint64]bool
	err  error
}

func (f *fakeStore) ApplyEnvelope(ctx context.Context, env fleet.Envelope) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n := 0
	for _, r := range env.Records {
		if !f.seen[r.Seq] {
			f.seen[r.Seq] = true
			n++
		}
	}
	return n, nil
}

type fakeNotifier struct{ got []string }

func (f *fakeNotifier) Notify(subject string, data []byte) error {
	f.got = append(f.got, subject+" "+string(data))
	return nil
}

func envelope(seqs ...uint64) []byte {
	env := fleet.Envelope{OrgID: "org_a", SiteID: "site_a", GatewayID: "gw_a"}
	for _, s := range seqs {
		env.Records = append(env.Records, fleet.Record{
			Seq: s, Kind: fleet.KindStatus, PrinterID: "printer-0001", Time: time.Unix(1e9, 0),
			Status: &fleet.Status{PrinterID: "printer-0001", State: fleet.StateIdle, Time: time.Unix(1e9, 0)},
		})
	}
	b, _ := json.Marshal(env)
	return b
}

func TestHandle(t *testing.T) {
	st := &fakeStore{seen: map[uint64]bool{}}
	n := &fakeNotifier{}
	w := NewWriter(st, n, Options{})
	ctx := context.Background()
	for _, msg := range [][]byte{envelope(1, 2), envelope(1, 2), envelope(3)} {
		if err := w.Handle(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	// The duplicate applied nothing and so announced nothing.
	if got, want := len(n.got), 2; got != want {
		t.Errorf("announcements: got %d (%v), want %d", got, n.got, want)
	}
	if n.got[0] != ChangedSubject+" org_a" {
		t.Errorf("announcement: got %q", n.got[0])
	}

	// A permanent rejection is logged, not retried; the rest was applied.
	st.err = fmt.Errorf("apply: %w", fleet.ErrRejected)
	if err := w.Handle(ctx, envelope(5)); err != nil {
		t.Errorf("rejection: got %v, want nil (no redelivery)", err)
	}

	// A store failure asks for redelivery.
	st.err = errors.New("disk full")
	if err := w.Handle(ctx, envelope(4)); err == nil {
		t.Error("store failure: want error for redelivery")
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := map[string][]byte{
		"not json":       []byte("{"),
		"unknown field":  []byte(`{"org_id":"o","site_id":"s","gateway_id":"g","records":[],"job_name":"x"}`),
		"no org":         []byte(`{"site_id":"s","gateway_id":"g","records":[]}`),
		"invalid record": []byte(`{"org_id":"o","site_id":"s","gateway_id":"g","records":[{"seq":0}]}`),
		"trailing":       append(envelope(1), []byte(" {}")...),
		"seq order":      envelope(2, 1),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := fleet.DecodeEnvelope(data); !errors.Is(err, fleet.ErrPoison) {
				t.Errorf("got %v, want ErrPoison", err)
			}
			// Poison is dropped (acknowledged), not retried for ever.
			w := NewWriter(&fakeStore{seen: map[uint64]bool{}}, &fakeNotifier{}, Options{})
			if err := w.Handle(context.Background(), data); err != nil {
				t.Errorf("Handle(poison) = %v, want nil", err)
			}
		})
	}
}
