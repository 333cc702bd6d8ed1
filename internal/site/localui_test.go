package site

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/url"
	"os"
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

// Beyond loopback the local UI's password and the site's private names
// would cross the LAN in clear: the UI is served over HTTPS with a
// certificate of the Command Center's own CA for its host names, the
// password is still asked, and plain HTTP gets nothing.
func TestUIBeyondLoopbackOverTLS(t *testing.T) {
	ctx := t.Context()
	cloud, _ := startCloud(t, t.TempDir(), "")
	_, _, token, err := cloud.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const name, password = "cc.site.test", "s3cret-password"
	cc, err := New(ctx, Options{
		DataDir: t.TempDir(), CloudURL: cloud.URL(), RootCAs: cloud.RootCAs(), EnrolToken: token,
		UIHost: "0.0.0.0", UIHosts: []string{name}, UIPassword: password, Logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, cc.Run)
	u, err := url.Parse(cc.URL())
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Hostname() != name {
		t.Fatalf("URL %s, want https://%s:port/", cc.URL(), name)
	}
	pem, err := os.ReadFile(cc.UICAFile())
	if err != nil {
		t.Fatalf("the UI's CA file: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("the UI's CA file holds no certificate")
	}
	// The browser on another computer: it resolves the name to the
	// Command Center (here: loopback) and verifies the certificate.
	addr := net.JoinHostPort("127.0.0.1", u.Port())
	browser := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: name},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	get := func(pw string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, "GET", cc.URL()+"api/printers", nil)
		if err != nil {
			t.Fatal(err)
		}
		if pw != "" {
			req.SetBasicAuth("operator", pw)
		}
		res, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := get(password); code != http.StatusOK {
		t.Errorf("over HTTPS with the password: %d, want 200", code)
	}
	if code := get(""); code != http.StatusUnauthorized {
		t.Errorf("over HTTPS without the password: %d, want 401", code)
	}
	// Plain HTTP on the same port: no answer at all, let alone the page.
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/api/printers", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = net.JoinHostPort(name, u.Port())
	req.SetBasicAuth("operator", password)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP with the password in clear was served: %s", res.Status)
		}
	}
}
