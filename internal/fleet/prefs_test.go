package fleet

import (
	"strings"
	"testing"
)

func TestPrefsValidate(t *testing.T) {
	tests := []struct {
		p  Prefs
		ok bool
	}{
		{Prefs{}, true},
		{Prefs{Lang: "de", TimeZone: "Europe/Berlin"}, true},
		{Prefs{Lang: "en", TimeZone: "UTC"}, true},
		{Prefs{TimeZone: "America/Argentina/Buenos_Aires"}, true},
		{Prefs{Lang: "DE"}, false},
		{Prefs{Lang: "de-DE"}, false},
		{Prefs{Lang: "abcdefghi"}, false},
		{Prefs{TimeZone: "Mars/Olympus_Mons"}, false},
		{Prefs{TimeZone: "Local"}, false},
		{Prefs{TimeZone: "../../../etc/passwd"}, false},
		{Prefs{TimeZone: "/etc/localtime"}, false},
		{Prefs{TimeZone: strings.Repeat("A", 65)}, false},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v, want ok %v", tt.p, err, tt.ok)
		}
	}
	if loc, err := (Prefs{}).Location(); err != nil || loc.String() != "UTC" {
		t.Errorf("zero Prefs location = %v, %v; want UTC", loc, err)
	}
}

// Preferences come from users' forms and API bodies: any bytes are
// refused or accepted without panic, and an accepted zone loads.
func FuzzPrefs(f *testing.F) {
	for _, s := range []string{"", "Europe/Berlin", "Local", "../etc/passwd", "UTC", "Etc/GMT+5", "\x00"} {
		f.Add("de", s)
	}
	f.Fuzz(func(t *testing.T, lang, zone string) {
		p := Prefs{Lang: lang, TimeZone: zone}
		if p.Validate() != nil {
			return
		}
		if loc, err := p.Location(); err != nil || loc == nil {
			t.Fatalf("valid %+v has no location: %v", p, err)
		}
		if strings.Contains(zone, "..") {
			t.Fatalf("zone %q with .. accepted", zone)
		}
	})
}
