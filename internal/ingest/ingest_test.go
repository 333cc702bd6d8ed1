package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

type fakeStore struct {
	seen map[uint64]bool
	err  error
	// failSeq fails any envelope holding this seq, as a store error.
	failSeq uint64
	// txs counts the transactions: one per ApplyEnvelope(s) call.
	txs int
}

func (f *fakeStore) ApplyEnvelope(ctx context.Context, env fleet.Envelope) (int, error) {
	f.txs++
	return f.apply(env)
}

func (f *fakeStore) apply(env fleet.Envelope) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	for _, r := range env.Records {
		if f.failSeq != 0 && r.Seq == f.failSeq {
			return 0, errors.New("disk full")
		}
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

// ApplyEnvelopes applies all or, if one fails, none.
func (f *fakeStore) ApplyEnvelopes(ctx context.Context, envs []fleet.Envelope) ([]int, []error, error) {
	f.txs++
	saved := maps.Clone(f.seen)
	applied, rejected := make([]int, len(envs)), make([]error, len(envs))
	for i, env := range envs {
		n, err := f.apply(env)
		if err != nil && !errors.Is(err, fleet.ErrRejected) {
			f.seen = saved
			return nil, nil, err
		}
		applied[i], rejected[i] = n, err
	}
	return applied, rejected, nil
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

func envelopeOf(org fleet.OrgID, seqs ...uint64) []byte {
	var env fleet.Envelope
	if err := json.Unmarshal(envelope(seqs...), &env); err != nil {
		panic(err)
	}
	env.OrgID = org
	b, _ := json.Marshal(env)
	return b
}

// seqs returns n sequence numbers from first on.
func seqs(first uint64, n int) []uint64 {
	s := make([]uint64, n)
	for i := range s {
		s[i] = first + uint64(i)
	}
	return s
}

func TestHandleBatch(t *testing.T) {
	tests := []struct {
		name      string
		msgs      [][]byte
		failSeq   uint64
		err       error
		wantErrs  []bool // which messages are to be redelivered; nil: none
		wantSeen  []uint64
		wantTxs   int
		announced int
	}{
		{name: "one transaction, one announcement per organisation",
			msgs:     [][]byte{envelope(1, 2), envelopeOf("org_b", 3), envelope(1, 2), envelope(4)},
			wantSeen: []uint64{1, 2, 3, 4}, wantTxs: 1, announced: 2},
		{name: "poison is dropped, the rest applied",
			msgs:     [][]byte{envelope(1), []byte("{"), envelope(2)},
			wantSeen: []uint64{1, 2}, wantTxs: 1, announced: 1},
		{name: "only poison",
			msgs: [][]byte{[]byte("{")}},
		{name: "a failing envelope is redelivered alone, the others stored",
			msgs: [][]byte{envelope(1), envelope(2), envelope(3)}, failSeq: 2,
			wantErrs: []bool{false, true, false}, wantSeen: []uint64{1, 3}, wantTxs: 4, announced: 2},
		{name: "a single failing envelope",
			msgs: [][]byte{envelope(1)}, failSeq: 1, wantErrs: []bool{true}, wantTxs: 1},
		{name: "about txRecords records to a transaction",
			msgs:     [][]byte{envelope(seqs(1, 1000)...), envelope(seqs(1001, 1000)...), envelope(seqs(2001, 1)...)},
			wantSeen: seqs(1, 2001), wantTxs: 2, announced: 2},
		{name: "a failing group is applied one by one, the next group on its own",
			msgs:    [][]byte{envelope(seqs(1, 1000)...), envelope(seqs(1001, 1000)...), envelope(seqs(2001, 1)...)},
			failSeq: 5, wantErrs: []bool{true, false, false},
			wantSeen: seqs(1001, 1001), wantTxs: 4, announced: 2},
		{name: "refusals are not redelivered",
			msgs: [][]byte{envelope(1), envelope(2)}, err: fmt.Errorf("apply: %w", fleet.ErrRejected), wantTxs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStore{seen: map[uint64]bool{}, failSeq: tt.failSeq, err: tt.err}
			n := &fakeNotifier{}
			errs := NewWriter(st, n, Options{}).HandleBatch(t.Context(), tt.msgs)
			var got []bool
			if errs != nil {
				got = make([]bool, len(errs))
				for i, err := range errs {
					got[i] = err != nil
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantErrs) {
				t.Errorf("redelivered: got %v (%v), want %v", got, errs, tt.wantErrs)
			}
			var seen []uint64
			for s := range st.seen {
				seen = append(seen, s)
			}
			slices.Sort(seen)
			if fmt.Sprint(seen) != fmt.Sprint(tt.wantSeen) {
				t.Errorf("stored: got %v, want %v", seen, tt.wantSeen)
			}
			if st.txs != tt.wantTxs {
				t.Errorf("transactions: got %d, want %d", st.txs, tt.wantTxs)
			}
			if len(n.got) != tt.announced {
				t.Errorf("announcements: got %v, want %d", n.got, tt.announced)
			}
		})
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
