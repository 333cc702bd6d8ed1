package fleet

import (
	"strings"
	"testing"
	"time"
)

func TestValidEmail(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"ada@example.com", true},
		{"ada.lovelace+alerts@sub.example.co.uk", true},
		{"", false},
		{"ada", false},
		{"Ada <ada@example.com>", false},
		{"<ada@example.com>", false},
		{"ada@example.com, eve@example.com", false},
		{"ada@example.com\r\nBcc: eve@example.com", false},
		{" ada@example.com", false},
		{strings.Repeat("a", 250) + "@example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if err := ValidEmail(tt.in); (err == nil) != tt.ok {
				t.Errorf("ValidEmail(%q) = %v, want ok %v", tt.in, err, tt.ok)
			}
		})
	}
}

func TestNotifyChannelValidate(t *testing.T) {
	valid := NotifyChannel{OrgID: "org_1", Kind: ChannelWebhook, Name: "Ops", Target: "https://hooks.example.com/x",
		Secret: strings.Repeat("s", 43), MinSeverity: SeverityWarning, Created: time.Unix(0, 0)}
	tests := []struct {
		name string
		edit func(*NotifyChannel)
		ok   bool
	}{
		{"valid webhook", func(*NotifyChannel) {}, true},
		{"valid mailbox", func(c *NotifyChannel) { c.Kind, c.Target, c.Secret = ChannelEmail, "ops@example.com", "" }, true},
		{"http webhook", func(c *NotifyChannel) { c.Target = "http://hooks.example.com/x" }, false},
		{"short secret", func(c *NotifyChannel) { c.Secret = "short" }, false},
		{"no org", func(c *NotifyChannel) { c.OrgID = "" }, false},
		{"blank name", func(c *NotifyChannel) { c.Name = "  " }, false},
		{"no severity", func(c *NotifyChannel) { c.MinSeverity = SeverityUnknown }, false},
		{"bad severity", func(c *NotifyChannel) { c.MinSeverity = 9 }, false},
		{"no kind", func(c *NotifyChannel) { c.Kind = ChannelUnknown }, false},
		{"bad mailbox", func(c *NotifyChannel) { c.Kind, c.Target = ChannelEmail, "ops" }, false},
		{"long target", func(c *NotifyChannel) { c.Target = "https://h.example.com/" + strings.Repeat("x", 2048) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.edit(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestNotifyPrefsValidate(t *testing.T) {
	tests := []struct {
		name string
		p    NotifyPrefs
		ok   bool
	}{
		{"on", NotifyPrefs{UserID: "u", OrgID: "o", Enabled: true, Email: "a@example.com", MinSeverity: SeverityError}, true},
		{"off without address", NotifyPrefs{UserID: "u", OrgID: "o", MinSeverity: SeverityInfo}, true},
		{"on without address", NotifyPrefs{UserID: "u", OrgID: "o", Enabled: true, MinSeverity: SeverityInfo}, false},
		{"off with a bad address", NotifyPrefs{UserID: "u", OrgID: "o", Email: "x", MinSeverity: SeverityInfo}, false},
		{"no severity", NotifyPrefs{UserID: "u", OrgID: "o"}, false},
		{"no user", NotifyPrefs{OrgID: "o", MinSeverity: SeverityInfo}, false},
		{"long language", NotifyPrefs{UserID: "u", OrgID: "o", MinSeverity: SeverityInfo, Lang: "deutsch-de"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestNotifyEnumsText(t *testing.T) {
	for k := ChannelEmail; k <= ChannelWebhook; k++ {
		b, err := k.MarshalText()
		var got ChannelKind
		if err != nil || got.UnmarshalText(b) != nil || got != k {
			t.Errorf("kind %d: round trip gave %v (%v)", k, got, err)
		}
	}
	for s := DeliveryPending; s <= DeliverySuperseded; s++ {
		b, err := s.MarshalText()
		var got DeliveryStatus
		if err != nil || got.UnmarshalText(b) != nil || got != s {
			t.Errorf("status %d: round trip gave %v (%v)", s, got, err)
		}
	}
	if _, err := ChannelUnknown.MarshalText(); err == nil {
		t.Error("unknown kind marshalled")
	}
	if _, err := DeliveryUnknown.MarshalText(); err == nil {
		t.Error("unknown status marshalled")
	}
	var k ChannelKind
	if err := k.UnmarshalText([]byte("unknown")); err == nil {
		t.Error("kind \"unknown\" decoded")
	}
}

func TestDeliveryValidate(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	good := Delivery{
		OrgID:     "org_a",
		Alert:     Alert{ID: "alr_1", Revision: 1},
		Recipient: Recipient{Key: "webhook:ch_1", Kind: ChannelWebhook},
		Created:   at, NextAt: at,
	}
	tests := []struct {
		name   string
		change func(*Delivery)
		want   string // "" → valid
	}{
		{"complete", func(*Delivery) {}, ""},
		{"e-mail", func(d *Delivery) { d.Recipient.Kind = ChannelEmail }, ""},
		{"no organisation", func(d *Delivery) { d.OrgID = "" }, "without organisation"},
		{"no alert", func(d *Delivery) { d.Alert.ID = "" }, "without organisation"},
		{"revision 0", func(d *Delivery) { d.Alert.Revision = 0 }, "without organisation"},
		{"no recipient", func(d *Delivery) { d.Recipient.Key = "" }, "without organisation"},
		{"unknown kind", func(d *Delivery) { d.Recipient.Kind = 9 }, "invalid kind 9"},
		{"no creation time", func(d *Delivery) { d.Created = time.Time{} }, "without creation or due time"},
		{"no due time", func(d *Delivery) { d.NextAt = time.Time{} }, "without creation or due time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.change(&d)
			err := d.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
