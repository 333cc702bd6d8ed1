package deviceapi

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzDecoder checks a client decoder on arbitrary bytes: it never panics,
// every refusal says why, and whatever it accepts re-encodes to JSON that
// decodes to the same value.
func fuzzDecoder[T any](f *testing.F, decode func([]byte) (T, error), seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte(``))
	f.Add([]byte(`null`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"unknown":1}`))
	f.Add([]byte(`{"time":"not a time"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decode(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a message")
			}
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("accepted %q but cannot re-encode it: %v", b, err)
		}
		v2, err := decode(again)
		if err != nil {
			t.Fatalf("re-encoded %q refused: %v", again, err)
		}
		if diff := cmp.Diff(v, v2); diff != "" {
			t.Fatalf("round trip changed the value (-first +second):\n%s", diff)
		}
	})
}

func mustJSON(f *testing.F, v any) []byte {
	f.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzDecodeStatus(f *testing.F) {
	dev := newFakeDevice()
	idle := Status{State: 1, Activity: "idle", Time: testTime}
	fuzzDecoder(f, decodeStatus, mustJSON(f, dev.st), mustJSON(f, idle),
		[]byte(`{"state":"printing","job":{"id":"A","progress":1.5},"time":"2026-03-02T09:30:00Z"}`),
		[]byte(`{"state":"cooling","etc_seconds":-1,"time":"2026-03-02T09:30:00+02:00"}`))
}

func FuzzDecodeEventPage(f *testing.F) {
	dev := newFakeDevice()
	fuzzDecoder(f, decodeEventPage, mustJSON(f, dev.Events(0, 100)), mustJSON(f, dev.Events(5, 100)),
		[]byte(`{"instance":"I","events":[{"seq":2,"code":"X","severity":"warning","time":"2026-03-02T09:30:00Z"}],"next":2,"first":3}`),
		[]byte(`{"instance":"I","events":[{"seq":2,"code":"X","severity":"loud","time":"2026-03-02T09:30:00Z"}],"next":2,"first":1}`))
}

func FuzzDecodeIdentity(f *testing.F) {
	dev := newFakeDevice()
	fuzzDecoder(f, decodeIdentity, mustJSON(f, dev.id),
		[]byte(`{"printer_id":"bad id!","model":"m","serial_number":"s","instance":"i"}`))
}
