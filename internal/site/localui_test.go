package site

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// On an interface other than loopback the local UI needs the host names
// it is reached by and a password, or the node refuses to start.
func TestUIOffLoopbackNeedsHostNamesAndLogin(t *testing.T) {
	for _, opts := range []Options{
		{UIHost: "0.0.0.0"},
		{UIHost: "0.0.0.0", UIHosts: []string{"cc.site.example"}},
		{UIHost: "192.0.2.7", UIPassword: "s3cret-password"},
	} {
		opts.DataDir, opts.CloudURL, opts.Logger = t.TempDir(), "https://127.0.0.1:1", discardLogger()
		_, err := New(context.Background(), opts)
		if err == nil || !strings.Contains(err.Error(), "-ui-hosts") || !strings.Contains(err.Error(), "-ui-password-file") {
			t.Errorf("UIHost %s, UIHosts %v, password %t: got %v, want an error naming -ui-hosts and -ui-password-file",
				opts.UIHost, opts.UIHosts, opts.UIPassword != "", err)
		}
	}
}

// The update mirror under the local UI's /tuf/ answers only to the UI's
// own names (a rebinding page must not read it either); the mirror's own
// listener serves the printers on the LAN by whatever name they use.
func TestMirrorHostNames(t *testing.T) {
	ctx := t.Context()
	cloud, _ := startCloud(t, t.TempDir(), "")
	_, _, token, err := cloud.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := New(ctx, Options{
		DataDir: t.TempDir(), CloudURL: cloud.URL(), RootCAs: cloud.RootCAs(), EnrolToken: token,
		MirrorListen: "127.0.0.1:0", Logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, cc.Run) // the listeners are open: requests wait for Run
	ui, err := url.Parse(cc.URL())
	if err != nil {
		t.Fatal(err)
	}
	mirror := cc.MirrorAddr().String()
	tests := []struct {
		name, addr, host string
		want             int
	}{
		{"local UI, loopback", ui.Host, ui.Host, http.StatusOK},
		{"local UI, forged host", ui.Host, "attacker.example:" + ui.Port(), http.StatusMisdirectedRequest},
		{"mirror listener, LAN address", mirror, "192.0.2.7:8081", http.StatusOK},
		{"mirror listener, loopback", mirror, mirror, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, "GET", "http://"+tt.addr+"/tuf/approvals.json", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tt.host
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Errorf("GET /tuf/approvals.json on %s with Host %s = %d, want %d", tt.addr, tt.host, res.StatusCode, tt.want)
			}
		})
	}
}
