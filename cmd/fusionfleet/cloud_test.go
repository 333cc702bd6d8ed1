package main

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/stream"
)

func TestNATSFlags(t *testing.T) {
	dir := t.TempDir()
	passwordFile := filepath.Join(dir, "password")
	if err := os.WriteFile(passwordFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	type want struct {
		Creds stream.Credentials
		TLS   stream.TLS
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    want
		wantErr string
	}{
		{"none", nil, nil, want{}, ""},
		{"user and password file", []string{"-nats", "nats://a:4222", "-nats-user", "fleet", "-nats-password-file", passwordFile}, nil,
			want{Creds: stream.Credentials{User: "fleet", Password: "s3cret"}}, ""},
		{"password from the environment", []string{"-nats-user", "fleet"}, map[string]string{"FUSIONFLEET_NATS_PASSWORD": "s3cret"},
			want{Creds: stream.Credentials{User: "fleet", Password: "s3cret"}}, ""},
		{"token file", []string{"-nats-token-file", passwordFile}, nil, want{Creds: stream.Credentials{Token: "s3cret"}}, ""},
		{"token from the environment", nil, map[string]string{"FUSIONFLEET_NATS_TOKEN": " t0ken "}, want{Creds: stream.Credentials{Token: "t0ken"}}, ""},
		{"nkey and TLS", []string{"-nats-nkey-file", "user.nk", "-nats-ca-file", "ca.pem", "-nats-tls-cert", "c.pem", "-nats-tls-key", "k.pem"}, nil,
			want{Creds: stream.Credentials{NKeySeedFile: "user.nk"}, TLS: stream.TLS{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"}}, ""},
		{"environment files", nil, map[string]string{"FUSIONFLEET_NATS_CREDS_FILE": "user.creds", "FUSIONFLEET_NATS_CA_FILE": "ca.pem"},
			want{Creds: stream.Credentials{CredsFile: "user.creds"}, TLS: stream.TLS{CAFile: "ca.pem"}}, ""},
		{"credentials in the URL from the environment", nil, map[string]string{"FUSIONFLEET_NATS": "nats://fleet:s3cret@a:4222"}, want{}, ""},
		{"password in a -nats URL", []string{"-nats", "nats://a:4222,nats://fleet:s3cret@b:4222"}, nil, want{}, "show in ps"},
		{"token in a -nats URL without scheme", []string{"-nats", "t0ken@a:4222"}, nil, want{}, "show in ps"},
		{"missing password file", []string{"-nats-password-file", passwordFile + ".missing"}, nil, want{}, "NATS password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{getenv: func(k string) string { return tt.env[k] }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
			fs := newFlagSet("cloud", "", e)
			fs.String("nats", "", "")
			nf := addNATSFlags(fs, e)
			if err := parse(fs, tt.args, e); err != nil {
				t.Fatal(err)
			}
			creds, tls, err := nf.options(fs, e)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, want{creds, tls}); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		in      string
		want    []netip.Prefix
		wantErr bool
	}{
		{"", nil, false},
		{"10.0.0.1", []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}, false},
		{" 10.1.2.3/8 , fd00::1 ", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::1/128")}, false},
		{"proxy.example.com", nil, true},
		{"10.0.0.0/33", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePrefixes(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
