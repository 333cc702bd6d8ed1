package cloud

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/notify"
)

func TestNewDispatcher(t *testing.T) {
	st, err := openStore(t.Context(), t.TempDir(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	smtp := func(from, passwordFile string) notify.SMTPOptions {
		return notify.SMTPOptions{Addr: "127.0.0.1:25", From: from, PasswordFile: passwordFile, StartTLS: true}
	}
	tests := []struct {
		name      string
		opts      NotifyOptions
		wantErr   string
		wantEmail bool
	}{
		{"webhooks only", NotifyOptions{}, "", false},
		{"e-mail", NotifyOptions{SMTP: smtp("alerts@example.com", pw)}, "", true},
		{"server without sender", NotifyOptions{SMTP: smtp("", "")}, "smtp sender", false},
		{"missing password file", NotifyOptions{SMTP: smtp("a@example.com", pw+".none")}, "smtp password", false},
		{"missing ca", NotifyOptions{SMTP: smtp("a@example.com", ""), SMTPCAFile: notPEM + ".none"}, "smtp ca", false},
		{"bad ca", NotifyOptions{SMTP: smtp("a@example.com", ""), SMTPCAFile: notPEM}, "no certificates", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := newDispatcher(tt.opts, st, clock.Real{}, slog.New(slog.DiscardHandler))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.EmailEnabled() != tt.wantEmail {
				t.Errorf("EmailEnabled = %v, want %v", d.EmailEnabled(), tt.wantEmail)
			}
		})
	}
}
