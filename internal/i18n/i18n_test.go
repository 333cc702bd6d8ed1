package i18n

import (
	"testing"
	"testing/fstest"
	"time"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		header string
		want   Lang
	}{
		{"", English},
		{"de-DE,de;q=0.9,en;q=0.8", German},
		{"en-US,en;q=0.9,de;q=0.8", English},
		{"fr-FR,fr;q=0.9,de;q=0.5", German},
		{"fr", English},
		{"de;q=bad, en;q=0.1", English},
		{"DE", German},
	}
	for _, tt := range tests {
		if got := Negotiate(tt.header); got != tt.want {
			t.Errorf("Negotiate(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	for s, want := range map[string]Lang{"de": German, "de-AT": German, "en_GB": English} {
		if got, ok := Parse(s); !ok || got != want {
			t.Errorf("Parse(%q) = %q, %v", s, got, ok)
		}
	}
	if _, ok := Parse("xx"); ok {
		t.Error("Parse(xx) succeeded")
	}
}

func TestLoad(t *testing.T) {
	c, err := load(fstest.MapFS{
		"de/a.json": {Data: []byte(`{"Printers": "Drucker", "%d jobs": "%d Aufträge"}`)},
		"de/b.json": {Data: []byte(`{"Printers": "Drucker"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := c[German]["%d jobs"]; got != "%d Aufträge" {
		t.Errorf("got %q", got)
	}
	bad := []fstest.MapFS{
		{"de/a.json": {Data: []byte(`{"Printers": "Drucker"}`)}, "de/b.json": {Data: []byte(`{"Printers": "Geräte"}`)}},
		{"de/a.json": {Data: []byte(`not json`)}},
		{"en/a.json": {Data: []byte(`{}`)}},
		{"xx/a.json": {Data: []byte(`{}`)}},
	}
	for i, fsys := range bad {
		if _, err := load(fsys); err == nil {
			t.Errorf("case %d: load succeeded", i)
		}
	}
}

func TestT(t *testing.T) {
	if got := English.T("%d jobs", 3); got != "3 jobs" {
		t.Errorf("English = %q", got)
	}
	if got := German.T("No such message"); got != "No such message" {
		t.Errorf("fallback = %q", got)
	}
}

func TestEmbeddedCatalogsLoad(t *testing.T) {
	if _, err := load(catalogFS); err != nil {
		t.Fatal(err)
	}
}

func TestActivity(t *testing.T) {
	for _, tt := range []struct {
		lang     Lang
		in, want string
	}{
		{German, "printing layer 3 of 40", "druckt Schicht 3 von 40"},
		{German, "error: agent supply low", "Fehler: Agent-Vorrat niedrig"},
		{German, "idle", "bereit"},
		{German, "something else", "something else"},
		{English, "printing layer 3 of 40", "printing layer 3 of 40"},
	} {
		if got := tt.lang.Activity(tt.in); got != tt.want {
			t.Errorf("%s.Activity(%q) = %q, want %q", tt.lang, tt.in, got, tt.want)
		}
	}
}

func TestShortMonth(t *testing.T) {
	for _, tt := range []struct {
		lang Lang
		m    time.Month
		want string
	}{
		{German, time.March, "März"}, {German, time.September, "Sept."}, {German, time.January, "Jan."},
		{English, time.March, "Mar"}, {English, time.September, "Sep"},
	} {
		if got := tt.lang.ShortMonth(tt.m); got != tt.want {
			t.Errorf("%s.ShortMonth(%v) = %q, want %q", tt.lang, tt.m, got, tt.want)
		}
	}
}
