package dashboard

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The demo's pages say that their times are the demo clock's, what the
// clock reads, and that the pages of bulk data lag by the bulk interval;
// a real cloud's pages carry no such label.
func TestDemoClockLabel(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name string
		demo *DemoClock
		want []string
	}{
		{"demo", &DemoClock{Speed: 60, Bulk: 30 * time.Second}, []string{
			`class="demo-clock"`, "Demo clock, 60× real time", "(now " + t0.UTC().Format("2006-01-02 15:04") + ")",
			"every 30s (30m of demo time)",
		}},
		{"real", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(newHandler(storeDeps(f.db), f.hub, Options{Clock: f.clock, Demo: tt.demo}).routes())
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/login")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page := string(b)
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("login page lacks %q", w)
				}
			}
			if tt.demo == nil && strings.Contains(page, "demo-clock") {
				t.Error("a real cloud's page carries the demo clock label")
			}
		})
	}
	for d, want := range map[time.Duration]string{30 * time.Second: "30s", 30 * time.Minute: "30m", 90 * time.Minute: "1h30m", 2 * time.Hour: "2h"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
