package main

import (
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/notify"
)

func TestNotifyFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    cloud.NotifyOptions
		wantErr string
	}{
		{"none", nil, nil, cloud.NotifyOptions{}, ""},
		{"flags", []string{"-smtp", "127.0.0.1:25", "-smtp-from", "alerts@example.com", "-smtp-user", "u", "-smtp-password-file", "pw",
			"-smtp-starttls", "-smtp-ca", "ca.pem", "-webhook-allow-private", "-notify-link", "https://cloud.example.com/"}, nil,
			cloud.NotifyOptions{
				SMTP:       notify.SMTPOptions{Addr: "127.0.0.1:25", From: "alerts@example.com", Username: "u", PasswordFile: "pw", StartTLS: true},
				SMTPCAFile: "ca.pem", AllowPrivateWebhooks: true, DashboardURL: "https://cloud.example.com/",
			}, ""},
		{"environment", nil, map[string]string{"FUSIONFLEET_SMTP": "127.0.0.1:25", "FUSIONFLEET_SMTP_FROM": "alerts@example.com",
			"FUSIONFLEET_SMTP_STARTTLS": "true", "FUSIONFLEET_WEBHOOK_ALLOW_PRIVATE": "1"},
			cloud.NotifyOptions{SMTP: notify.SMTPOptions{Addr: "127.0.0.1:25", From: "alerts@example.com", StartTLS: true}, AllowPrivateWebhooks: true}, ""},
		{"sender without server", []string{"-smtp-from", "alerts@example.com"}, nil, cloud.NotifyOptions{}, "need -smtp"},
		{"password without server", []string{"-smtp-password-file", "pw"}, nil, cloud.NotifyOptions{}, "need -smtp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{getenv: func(k string) string { return tt.env[k] }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
			fs := newFlagSet("cloud", "", e)
			nf := addNotifyFlags(fs, e)
			if err := parse(fs, tt.args, e); err != nil {
				t.Fatal(err)
			}
			got, err := nf.options()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}
