package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/store"
)

func TestNotifyFlags(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "cloud.db"), store.Options{})
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
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantErr   string
		wantEmail bool
	}{
		{"no e-mail", nil, nil, "", false},
		{"flags", []string{"-smtp", "127.0.0.1:25", "-smtp-from", "alerts@example.com", "-smtp-password-file", pw, "-smtp-starttls"}, nil, "", true},
		{"environment", nil, map[string]string{"FUSIONFLEET_SMTP": "127.0.0.1:25", "FUSIONFLEET_SMTP_FROM": "alerts@example.com",
			"FUSIONFLEET_SMTP_STARTTLS": "true"}, "", true},
		{"sender without server", []string{"-smtp-from", "alerts@example.com"}, nil, "need -smtp", false},
		{"server without sender", []string{"-smtp", "127.0.0.1:25"}, nil, "smtp sender", false},
		{"missing password file", []string{"-smtp", "127.0.0.1:25", "-smtp-from", "a@example.com", "-smtp-password-file", pw + ".none"}, nil, "smtp password", false},
		{"bad ca", []string{"-smtp", "127.0.0.1:25", "-smtp-from", "a@example.com", "-smtp-ca", notPEM}, nil, "no certificates", false},
	}
	var none *notifyFlags
	if d, err := none.newDispatcher(st, clock.Real{}, slog.New(slog.DiscardHandler)); err != nil || d.EmailEnabled() {
		t.Errorf("without flags: %v, %v; want webhooks only", d, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{getenv: func(k string) string { return tt.env[k] }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
			fs := newFlagSet("cloud", "", e)
			nf := addNotifyFlags(fs, e)
			if err := parse(fs, tt.args, e); err != nil {
				t.Fatal(err)
			}
			d, err := nf.newDispatcher(st, clock.Real{}, slog.New(slog.DiscardHandler))
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
