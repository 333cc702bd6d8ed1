package main

import (
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The MQTT feed's flags: the password from a file or the environment,
// never a flag value; a bad URL refused before the Command Center starts.
func TestMQTTFlags(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	type got struct {
		URL, Prefix, User, Password string
		AllowList, CA               bool
	}
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want got
		err  string
	}{
		{name: "off", args: nil, want: got{}},
		{name: "password from a file", args: []string{"-mqtt", "mqtt://127.0.0.1", "-mqtt-user", "cc", "-mqtt-password-file", pwFile},
			want: got{URL: "mqtt://127.0.0.1", Prefix: "fusionfleet", User: "cc", Password: "from-file"}},
		{name: "all from the environment", env: map[string]string{"FUSIONFLEET_MQTT": "mqtt://broker:1884", "FUSIONFLEET_MQTT_PREFIX": "plant/a",
			"FUSIONFLEET_MQTT_USER": "cc", "FUSIONFLEET_MQTT_PASSWORD": "from-env", "FUSIONFLEET_MQTT_ALLOW_LIST": "true"},
			want: got{URL: "mqtt://broker:1884", Prefix: "plant/a", User: "cc", Password: "from-env", AllowList: true}},
		{name: "empty prefix", args: []string{"-mqtt", "mqtt://127.0.0.1", "-mqtt-prefix", ""}, want: got{URL: "mqtt://127.0.0.1", Prefix: "fusionfleet"}},
		{name: "bad scheme", args: []string{"-mqtt", "http://127.0.0.1"}, err: "-mqtt: mqtt broker URL"},
		{name: "password in the URL", args: []string{"-mqtt", "mqtt://cc:secret@127.0.0.1"}, err: "no user or password in the URL"},
		{name: "wildcard prefix", args: []string{"-mqtt", "mqtt://127.0.0.1", "-mqtt-prefix", "a/#"}, err: "no wildcards"},
		{name: "missing password file", args: []string{"-mqtt", "mqtt://127.0.0.1", "-mqtt-password-file", filepath.Join(dir, "none")}, err: "-mqtt-password-file"},
		{name: "bad CA file", args: []string{"-mqtt", "mqtts://127.0.0.1", "-mqtt-ca-file", pwFile}, err: "-mqtt-ca-file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := env{getenv: func(k string) string { return tt.env[k] }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			f := addMQTTFlags(fs, e)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			o, err := f.options(e)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("options = %v, want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got{o.URL, o.Prefix, o.Username, o.Password, o.AllowList, o.RootCAs != nil}); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
	code, _, stderr := runArgs(t, "commandcenter", "-cloud", "https://127.0.0.1:1", "-mqtt", "tcp://127.0.0.1")
	if code == 0 || !strings.Contains(stderr, "-mqtt") {
		t.Errorf("commandcenter with a bad -mqtt: exit %d, stderr %q; want a refusal naming -mqtt", code, stderr)
	}
}

// The demo feeds a broker that answers at its probe address, none when
// nothing answers there or with -mqtt off, and the broker it is given.
func TestDemoMQTT(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	for _, tt := range []struct {
		value, probe, want, err string
	}{
		{value: "auto", probe: ln.Addr().String(), want: "mqtt://" + ln.Addr().String()},
		{value: "auto", probe: closed.Addr().String(), want: ""},
		{value: "off", probe: ln.Addr().String(), want: ""},
		{value: "mqtts://broker.example", probe: closed.Addr().String(), want: "mqtts://broker.example"},
		{value: "http://broker.example", err: "-mqtt"},
	} {
		o, err := demoMQTT(t.Context(), tt.value, tt.probe)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("demoMQTT(%q) = %v, want an error with %q", tt.value, err, tt.err)
			}
			continue
		}
		if err != nil || o.URL != tt.want || (o.URL != "" && o.Prefix != demoMQTTPrefix) {
			t.Errorf("demoMQTT(%q, %s) = %q %q, %v; want %q", tt.value, tt.probe, o.URL, o.Prefix, err, tt.want)
		}
	}
}
