package stream

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/nats-io/nkeys"

	"github.com/fusionfleet/fusionfleet/internal/tlsca"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// natsServerBinary finds the nats-server program: on the PATH, or where
// Debian's nats-server package installs it. Without it the test skips,
// loudly, and fails in CI.
func natsServerBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	const debian = "/usr/sbin/nats-server"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("nats-server is required in CI but not installed (Debian package nats-server)")
	}
	t.Skip("SKIPPING test against a real nats-server: not installed (Debian package nats-server)")
	return ""
}

// startNATSServer runs nats-server with JetStream on a free loopback port
// and the given authorization block (nats-server configuration syntax,
// "" → none), and returns its client URL. extra goes into the
// configuration as well (a tls block, say).
func startNATSServer(t *testing.T, authorization, extra string) string {
	t.Helper()
	bin := natsServerBinary(t)
	dir := t.TempDir()
	conf := fmt.Sprintf(`listen: "127.0.0.1:-1"
ports_file_dir: %q
jetstream { store_dir: %q }
%s
%s
`, dir, filepath.Join(dir, "js"), authorization, extra)
	confFile := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cmd := exec.Command(bin, "-c", confFile)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	// The server writes the ports it listens on to a file once it does.
	var url string
	err := wait.Until(10*time.Second, 20*time.Millisecond, func() error {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("nats-server exited: %v", err)
		default:
		}
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s_%d.ports", filepath.Base(bin), cmd.Process.Pid)))
		if err != nil {
			return err
		}
		var ports struct{ Nats []string }
		if err := json.Unmarshal(b, &ports); err != nil || len(ports.Nats) == 0 {
			return fmt.Errorf("ports file %q: %v", b, err)
		}
		url = ports.Nats[0]
		return nil
	})
	if err != nil {
		t.Fatalf("nats-server not listening: %v; its log:\n%s", err, log.String())
	}
	return url
}

// writeSecret writes a secret to a file of the test, as an operator keeps
// it, and returns the path.
func writeSecret(t *testing.T, name, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readSecret reads a secret file as a caller of Open does.
func readSecret(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// nkeyUser makes a NATS user NKey and returns its public key and a file
// holding its seed.
func nkeyUser(t *testing.T) (public, seedFile string) {
	t.Helper()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	public, err = user.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := user.Seed()
	if err != nil {
		t.Fatal(err)
	}
	return public, writeSecret(t, "user.nk", string(seed))
}

// An external server that requires credentials refuses a stream without
// them, with an error that says so, and serves one with them end to end.
func TestExternalServerRequiresCredentials(t *testing.T) {
	t.Parallel()
	password, token := randomHex(t), randomHex(t)
	pub, seedFile := nkeyUser(t)
	_, otherSeedFile := nkeyUser(t)
	passwordFile := writeSecret(t, "password", password)
	tokenFile := writeSecret(t, "token", token)

	ca, err := tlsca.LoadOrCreate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Dir(ca.CAPath)
	tlsBlock := fmt.Sprintf("tls { cert_file: %q\nkey_file: %q }",
		filepath.Join(certDir, "server.crt"), filepath.Join(certDir, "server.key"))
	otherCA, err := tlsca.LoadOrCreate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name          string
		authorization string
		tls           string
		refused       map[string]Options // connections the server or the client must refuse
		wantRefused   string
		accepted      Options
	}{
		{
			name:          "user and password",
			authorization: fmt.Sprintf("authorization { user: fleet\npassword: %q }", password),
			refused: map[string]Options{
				"none":           {},
				"wrong password": {Credentials: Credentials{User: "fleet", Password: "guess"}},
				"token instead":  {Credentials: Credentials{Token: password}},
			},
			wantRefused: "the server refused the credentials given",
			accepted:    Options{Credentials: Credentials{User: "fleet", Password: readSecret(t, passwordFile)}},
		},
		{
			name:          "token",
			authorization: fmt.Sprintf("authorization { token: %q }", token),
			refused: map[string]Options{
				"none":        {},
				"wrong token": {Credentials: Credentials{Token: "guess"}},
			},
			wantRefused: "the server refused the credentials given",
			accepted:    Options{Credentials: Credentials{Token: readSecret(t, tokenFile)}},
		},
		{
			name:          "nkey",
			authorization: fmt.Sprintf("authorization { users: [ { nkey: %q } ] }", pub),
			refused: map[string]Options{
				"none":      {},
				"other key": {Credentials: Credentials{NKeySeedFile: otherSeedFile}},
			},
			wantRefused: "the server refused the credentials given",
			accepted:    Options{Credentials: Credentials{NKeySeedFile: seedFile}},
		},
		{
			name:          "TLS wanted, not offered",
			authorization: fmt.Sprintf("authorization { user: fleet\npassword: %q }", password),
			refused: map[string]Options{ // the password is not sent in the clear
				"CA file":    {Credentials: Credentials{User: "fleet", Password: password}, TLS: TLS{CAFile: ca.CAPath}},
				"tls:// URL": {URL: "tls://", Credentials: Credentials{User: "fleet", Password: password}},
			},
			wantRefused: "secure connection",
			accepted:    Options{Credentials: Credentials{User: "fleet", Password: readSecret(t, passwordFile)}},
		},
		{
			name:          "TLS and password",
			authorization: fmt.Sprintf("authorization { user: fleet\npassword: %q }", password),
			tls:           tlsBlock,
			refused: map[string]Options{
				"server not verified": {
					Credentials: Credentials{User: "fleet", Password: password},
					TLS:         TLS{CAFile: otherCA.CAPath},
				},
			},
			wantRefused: "certificate signed by unknown authority",
			accepted: Options{
				Credentials: Credentials{User: "fleet", Password: readSecret(t, passwordFile)},
				TLS:         TLS{CAFile: ca.CAPath},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := startNATSServer(t, tt.authorization, tt.tls)
			for name, opts := range tt.refused {
				// A URL in the case is a scheme for the server's address.
				opts.URL, opts.Name = strings.Replace(url, "nats://", cmp.Or(opts.URL, "nats://"), 1), "TEST_"+randomHex(t)
				s, err := Open(t.Context(), opts)
				if err == nil {
					s.Close()
					t.Errorf("%s: Open succeeded, want the server to refuse", name)
					continue
				}
				t.Logf("%s: %v", name, err)
				if !strings.Contains(err.Error(), tt.wantRefused) {
					t.Errorf("%s: Open = %v, want error containing %q", name, err, tt.wantRefused)
				}
			}

			opts := tt.accepted
			opts.URL, opts.Name = url, "TEST_"+randomHex(t)
			s, err := Open(t.Context(), opts)
			if err != nil {
				t.Fatalf("Open with credentials: %v", err)
			}
			t.Cleanup(func() { s.Close() }) // after the consumer's
			s.nakDelay = 100 * time.Millisecond
			publish(t, s, "m1", "m2")
			c := startConsumer(t, s, "store", nil)
			got := []string{c.next(t), c.next(t)}
			if diff := gocmp.Diff([]string{"m1", "m2"}, got); diff != "" {
				t.Errorf("consumed (-want +got):\n%s", diff)
			}
			// A further connection carries the same credentials.
			nc, err := s.Connect()
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			nc.Close()
		})
	}
}

func TestCredentialsMisconfigured(t *testing.T) {
	seed := writeSecret(t, "user.nk", "not a seed")
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"user without password", Options{Credentials: Credentials{User: "fleet"}}, "a user needs a password"},
		{"password without user", Options{Credentials: Credentials{Password: "x"}}, "a user needs a password"},
		{"two ways", Options{Credentials: Credentials{User: "fleet", Password: "x", Token: "y"}}, "give one of"},
		{"bad seed", Options{Credentials: Credentials{NKeySeedFile: seed}}, "nkey seed"},
		{"missing seed", Options{Credentials: Credentials{NKeySeedFile: seed + ".missing"}}, "nkey seed"},
		{"missing creds file", Options{Credentials: Credentials{CredsFile: seed + ".missing"}}, "no such file"},
		{"certificate without key", Options{TLS: TLS{CertFile: "client.pem"}}, "go together"},
		{"missing CA file", Options{TLS: TLS{CAFile: seed + ".missing"}}, "rootCA file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.URL = "nats://127.0.0.1:1"
			s, err := Open(t.Context(), tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Open = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}
