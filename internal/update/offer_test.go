package update

import "testing"

const (
	model4200 = "FF-4200"
	model5200 = "FF-5200"
)

func TestNewestOffer(t *testing.T) {
	pct := 20
	offers := []Offer{
		{Target: "fw-4.3.0", Release: Release{Kind: KindFirmware, Version: "4.3.0", Models: []string{model4200}, MinVersion: "4.0"}},
		{Target: "fw-4.4.0", Halted: true, Release: Release{Kind: KindFirmware, Version: "4.4.0", Models: []string{model4200},
			Rollout: &Rollout{Percent: &pct}}},
		{Target: "fw-9.0.0", Release: Release{Kind: KindFirmware, Version: "9.0.0", Models: []string{model5200}}},
		{Target: "params-2.2", Release: Release{Kind: KindParameters, Version: "2.2", Name: "PA12-balanced-2.2", Models: []string{model4200}}},
	}
	tests := []struct {
		name      string
		kind      Kind
		model     string
		installed string // as the printer reports it
		want      string // target, "" for none
	}{
		{"newer fitting release", KindFirmware, model4200, "4.2.1", "fw-4.3.0"},
		{"halted release skipped; runs the newest", KindFirmware, model4200, "4.3.0", ""},
		{"below the minimum version", KindFirmware, model4200, "3.9", ""},
		{"other model", KindFirmware, model5200, "8.0", "fw-9.0.0"},
		{"unknown version", KindFirmware, model4200, "", ""},
		{"unparsable version", KindFirmware, model4200, "beta", ""},
		{"parameter set known by its release name", KindParameters, model4200, "PA12-balanced-2.2", ""},
		{"parameter set read from its version suffix", KindParameters, model4200, "std-4200-2.1", "params-2.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if o := NewestOffer(offers, tt.kind, tt.model, InstalledVersion(offers, tt.kind, tt.model, tt.installed)); o != nil {
				got = o.Target
			}
			if got != tt.want {
				t.Errorf("NewestOffer(%s, %s, %q) = %q, want %q", tt.kind, tt.model, tt.installed, got, tt.want)
			}
		})
	}
}
