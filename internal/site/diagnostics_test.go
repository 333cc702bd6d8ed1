package site

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/httpserver"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// The canaries of the diagnostics test: private names a customer's job
// carries, and the paths they show up in.
var diagCanaries = []string{"CanaryJobQuokka", "canaryuser.zebra", "CANARY-PC-OKAPI", "CanaryPartNarwhal", "CanaryGeoTapir", "CanaryCadFolder"}

// serveVirtualPrinter serves p's device API on a free loopback port,
// paired with the Command Center of fingerprint fp, until the test ends or
// the returned actor is stopped.
func serveVirtualPrinter(t *testing.T, p *printer.Printer, fp deviceapi.Fingerprint) (string, *wait.Running) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := deviceapi.LoadOrCreateCertificate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	collectors, err := deviceapi.OpenCollectors(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := collectors.Pair(fp); err != nil {
		t.Fatal(err)
	}
	logger := discardLogger()
	srv := deviceapi.NewServer(deviceapi.NewHandler(p, collectors, logger), cert, logger)
	run := wait.Go(t, func(ctx context.Context) error {
		return httpserver.Run(ctx, logger, "printer", srv, func() error { return srv.ServeTLS(ln, "", "") })
	})
	return ln.Addr().String(), run
}

// TestRemoteDiagnosticsEndToEnd: a virtual printer writes a job's canary
// names and paths into its logs, events and warnings; a diagnostic of
// each kind is requested in the cloud, reaches the Command Center with an
// upload's answer (no inbound connection), is approved in the local UI
// (approving twice runs it once), runs against the printer over mutual
// TLS and is uploaded in chunks through the real uplink and stored. The
// results reach the cloud scrubbed: no canary is in any byte the cloud
// keeps (its SQLite files and its JetStream store), while the site's store
// and local UI keep them. A printer that disappears fails the next
// diagnostic with the reason.
func TestRemoteDiagnosticsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	ccDir := filepath.Join(dir, "cc")
	prn := printer.New(printer.Options{Name: "3DP 1", Seed: 11, Clock: clock.NewScaled(600)})
	if _, err := prn.QueueJobs(printer.JobFile{Jobs: []printer.JobSpec{{Name: "CanaryJobQuokka housing", User: "canaryuser.zebra", Host: "CANARY-PC-OKAPI",
		Parts: []printer.PartSpec{{Name: "CanaryPartNarwhal bracket", GeometryRef: `C:\Users\canaryuser.zebra\CanaryCadFolder\CanaryGeoTapir.stl`,
			SizeMM: fleet.Vec3{X: 40, Y: 40, Z: 20}, VolumeCM3: 12}}}}}); err != nil {
		t.Fatal(err)
	}
	addr, printerRun := serveVirtualPrinter(t, prn, ccFingerprint(t, ccDir))

	cloudDir := filepath.Join(dir, "cloud")
	cloudNode, cloudRun := startCloud(t, cloudDir, "")
	user, _, token, err := cloudNode.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := New(ctx, Options{
		DataDir: ccDir, CloudURL: cloudNode.URL(), RootCAs: cloudNode.RootCAs(), EnrolToken: token,
		Name: "test", Printers: []string{addr}, TrustNewPrinters: true,
		PollInterval: 20 * time.Millisecond, UploadInterval: 20 * time.Millisecond, PriorityDelay: 20 * time.Millisecond,
		BulkInterval: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, RateBytes: 1 << 20,
		DiagnosticsInterval: 20 * time.Millisecond, DiagnosticsCheckIn: time.Second, Logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ccRun := wait.Go(t, cc.Run)

	db, err := store.Open(ctx, filepath.Join(cloudDir, "cloud.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, _, err := db.UserByName(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	org := u.OrgID
	var pv fleet.PrinterView
	wait.For(t, "the printer did not reach the cloud", 30*time.Second, func() bool {
		ps, err := db.Printers(ctx, org)
		if err == nil && len(ps) == 1 {
			pv = ps[0]
		}
		return pv.ID != ""
	})
	// The printer has accepted the canary job: its session log names it.
	wait.For(t, "the session log never named the canary job", 30*time.Second, func() bool {
		pg := prn.Logs(fleet.LogSession, 0, 1000)
		for _, l := range pg.Items {
			if strings.Contains(l.Text, "CanaryJobQuokka") {
				return true
			}
		}
		return false
	})

	now := time.Now()
	request := func(kind fleet.DiagnosticKind) fleet.DiagnosticID {
		t.Helper()
		id, err := fleet.NewDiagnosticID()
		if err != nil {
			t.Fatal(err)
		}
		r := fleet.DiagnosticRequest{ID: id, Kind: kind, MaxBytes: fleet.MaxDiagnosticBytes, Requester: "eve (service provider)",
			Created: now, Expires: now.Add(fleet.DiagnosticTTL)}
		if kind == fleet.DiagnosticLogs {
			r.Logs, r.From, r.To = []fleet.LogKind{fleet.LogSession, fleet.LogPrinthead}, now.Add(-time.Hour), now.Add(6*24*time.Hour)
		}
		if _, err := db.CreateDiagnostic(ctx, fleet.Diagnostic{DiagnosticRequest: r, Org: org, Printer: pv.ID, RequestedBy: u.ID, RequesterOrg: org}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	ids := []fleet.DiagnosticID{request(fleet.DiagnosticLogs), request(fleet.DiagnosticSnapshot), request(fleet.DiagnosticSelfTest)}
	cloudState := func(id fleet.DiagnosticID) fleet.Diagnostic {
		t.Helper()
		d, err := db.Diagnostic(ctx, org, id)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, id := range ids {
		wait.For(t, "the request did not reach the site as delivered", 30*time.Second, func() bool {
			return cloudState(id).State == fleet.DiagDelivered
		})
	}
	// Nothing runs before the site approves.
	time.Sleep(200 * time.Millisecond)
	if d := cloudState(ids[0]); d.State != fleet.DiagDelivered {
		t.Fatalf("before approval: %s", d.State)
	}
	approve := func(id fleet.DiagnosticID) {
		t.Helper()
		for range 2 { // the second is a replay: it changes nothing
			resp, err := http.Post(cc.URL()+"diagnostics/"+string(id)+"/approve", "application/x-www-form-urlencoded", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK { // after the redirect to the page
				t.Fatalf("approve: %d", resp.StatusCode)
			}
		}
	}
	for _, id := range ids {
		approve(id)
	}
	for _, id := range ids {
		wait.For(t, "the diagnostic was not done in the cloud", 60*time.Second, func() bool {
			d := cloudState(id)
			if d.State.Final() && d.State != fleet.DiagDone {
				t.Fatalf("diagnostic %s: %s: %s", d.Kind, d.State, d.Reason)
			}
			return d.State == fleet.DiagDone
		})
	}
	results := map[fleet.DiagnosticKind]string{}
	for _, id := range ids {
		d := cloudState(id)
		var buf bytes.Buffer
		if err := db.DiagnosticResult(ctx, org, id, &buf); err != nil {
			t.Fatal(err)
		}
		results[d.Kind] = buf.String()
		local, err := cc.Store().DiagnosticResult(ctx, id)
		if err != nil || !bytes.Equal(local, buf.Bytes()) {
			t.Errorf("%s: the site keeps %d bytes as sent, the cloud %d (%v)", d.Kind, len(local), buf.Len(), err)
		}
	}
	if !strings.Contains(results[fleet.DiagnosticLogs], "job accepted") || !strings.Contains(results[fleet.DiagnosticLogs], "[private]") ||
		!strings.Contains(results[fleet.DiagnosticLogs], "[path]") {
		t.Errorf("logs result lacks the scrubbed job line:\n%.2000s", results[fleet.DiagnosticLogs])
	}
	if !strings.Contains(results[fleet.DiagnosticSnapshot], `"counters"`) || !strings.Contains(results[fleet.DiagnosticSnapshot], `"consumables"`) {
		t.Errorf("snapshot result: %.500s", results[fleet.DiagnosticSnapshot])
	}
	if !strings.Contains(results[fleet.DiagnosticSelfTest], `"checks"`) {
		t.Errorf("self-test result: %.500s", results[fleet.DiagnosticSelfTest])
	}
	for _, id := range ids {
		if d, _ := cc.Store().Diagnostic(ctx, id); d.State != fleet.DiagDone || d.DecidedBy != "local UI" || d.Sent != d.Chunks {
			t.Errorf("site's view of %s: %s by %q, %d of %d chunks sent", id, d.State, d.DecidedBy, d.Sent, d.Chunks)
		}
	}

	// The site keeps the names: in its local UI and its store.
	resp, err := http.Get(cc.URL() + "jobs")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(page, []byte("CanaryJobQuokka")) {
		t.Error("the local UI's jobs page does not show the canary job")
	}

	// A printer that disappears fails the next diagnostic with the reason.
	// With its only printer gone the site uploads nothing: the request
	// comes with the site's check-in.
	printerRun.Stop()
	gone := request(fleet.DiagnosticSnapshot)
	wait.For(t, "the request did not reach the site", 30*time.Second, func() bool { return cloudState(gone).State == fleet.DiagDelivered })
	approve(gone)
	wait.For(t, "a diagnostic of a vanished printer did not fail", 60*time.Second, func() bool { return cloudState(gone).State == fleet.DiagFailed })
	if d := cloudState(gone); !strings.Contains(d.Reason, "printer") {
		t.Errorf("failure reason %q does not say what failed", d.Reason)
	}

	ccRun.Stop()
	cloudRun.Stop()
	db.Close()
	// No canary in any byte the cloud kept; all in the site's.
	scan := func(root string) map[string]bool {
		t.Helper()
		found := map[string]bool{}
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			b = bytes.ToLower(b)
			for _, c := range diagCanaries {
				if bytes.Contains(b, []byte(strings.ToLower(c))) {
					found[c] = true
					t.Logf("%s holds %q", strings.TrimPrefix(path, dir), c)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	if found := scan(cloudDir); len(found) > 0 {
		t.Errorf("canaries in the cloud's files: %v", found)
	}
	if found := scan(ccDir); !found["CanaryJobQuokka"] || !found["canaryuser.zebra"] || !found["CanaryPartNarwhal"] {
		t.Errorf("the site's store lost its names: found %v", found)
	}
}
