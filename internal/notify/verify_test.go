package notify_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/notify"
)

func TestVerify(t *testing.T) {
	const secret = "whsec-test"
	body := []byte(`{"id":"dlv_1","event":"opened"}`)
	now := time.Unix(1_800_000_000, 0)
	ts := now.Unix()
	good := notify.Sign(secret, ts, body)
	header := func(ts, sig string) http.Header {
		h := http.Header{}
		if ts != "" {
			h.Set(notify.HeaderTimestamp, ts)
		}
		if sig != "" {
			h.Set(notify.HeaderSignature, sig)
		}
		return h
	}
	tsNow := strconv.FormatInt(ts, 10)
	tests := []struct {
		name   string
		secret string
		header http.Header
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"valid", secret, header(tsNow, good), body, now, true},
		{"valid at the edge of the tolerance", secret, header(tsNow, good), body, now.Add(5 * time.Minute), true},
		{"one of several signatures", secret, header(tsNow, "v1=00ff, v0=abc,"+good), body, now, true},
		{"wrong secret", "other", header(tsNow, good), body, now, false},
		{"tampered body", secret, header(tsNow, good), []byte(`{"id":"dlv_2","event":"opened"}`), now, false},
		{"too old", secret, header(tsNow, good), body, now.Add(5*time.Minute + time.Second), false},
		{"from the future", secret, header(tsNow, good), body, now.Add(-5*time.Minute - time.Second), false},
		{"timestamp changed", secret, header(strconv.FormatInt(ts+1, 10), good), body, now, false},
		{"no timestamp", secret, header("", good), body, now, false},
		{"signed timestamp", secret, header("+"+tsNow, good), body, now, false},
		{"no signature", secret, header(tsNow, ""), body, now, false},
		{"other scheme only", secret, header(tsNow, "v2="+good[3:]), body, now, false},
		{"not hex", secret, header(tsNow, "v1=zz"), body, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := notify.Verify(tt.secret, tt.header, tt.body, tt.now, 5*time.Minute)
			if tt.ok && err != nil {
				t.Errorf("Verify = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, notify.ErrSignature) {
				t.Errorf("Verify = %v, want ErrSignature", err)
			}
		})
	}
}

// FuzzVerify feeds Verify arbitrary headers: it never panics, and accepts
// only the right signature of the right timestamp.
func FuzzVerify(f *testing.F) {
	const secret = "whsec-fuzz"
	body := []byte(`{"event":"test"}`)
	now := time.Unix(1_800_000_000, 0)
	f.Add("1800000000", notify.Sign(secret, now.Unix(), body))
	f.Add("1800000000", "v1=00, v1="+notify.Sign(secret, now.Unix(), body)[3:])
	f.Add("", "")
	f.Add("99999999999999999999", "v1=")
	f.Add("1800000000", ",,,=,v1,v1=v1=")
	f.Fuzz(func(t *testing.T, ts, sig string) {
		h := http.Header{}
		h.Set(notify.HeaderTimestamp, ts)
		h.Set(notify.HeaderSignature, sig)
		err := notify.Verify(secret, h, body, now, time.Hour)
		if err != nil {
			if !errors.Is(err, notify.ErrSignature) {
				t.Fatalf("Verify = %v, not ErrSignature", err)
			}
			return
		}
		sec, perr := strconv.ParseInt(h.Get(notify.HeaderTimestamp), 10, 64)
		if perr != nil {
			t.Fatalf("accepted unparsable timestamp %q", ts)
		}
		if d := now.Sub(time.Unix(sec, 0)); d > time.Hour || d < -time.Hour {
			t.Fatalf("accepted timestamp %d outside the tolerance", sec)
		}
	})
}

func TestCheckWebhookURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://hooks.example.com/fusionfleet", true},
		{"https://hooks.example.com:8443/x?y=1", true},
		{"http://hooks.example.com/", false},
		{"https:///path", false},
		{"https://user:pw@hooks.example.com/", false},
		{"https://hooks.example.com/#frag", false},
		{"ftp://hooks.example.com/", false},
		{"hooks.example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			if err := notify.CheckWebhookURL(tt.url, false); (err == nil) != tt.ok {
				t.Errorf("CheckWebhookURL = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
