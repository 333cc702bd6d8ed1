package site

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// An air-gapped site end to end: a virtual printer's records pile up in a
// Command Center that reaches no cloud; they travel in a bundle to the
// cloud, which imports them (twice, changing nothing the second time);
// the acknowledgement trims the outbox; an update bundle comes back, is
// verified with TUF and offered to the printers.
func TestAirgappedSite(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	ccDir := filepath.Join(dir, "cc")
	addr := startPrinter(t, printer.Options{Name: "3DP 1", Seed: 7, Clock: clock.NewScaled(3600)}, ccFingerprint(t, ccDir))

	// The cloud, with a release in its update repository.
	cloudDir := filepath.Join(dir, "cloud")
	repo, err := updaterepo.InitRepo(filepath.Join(cloudDir, "tuf"), updaterepo.RepoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rel := update.Release{Kind: update.KindFirmware, Version: "4.3.0", Models: []string{"FF-4200"}}
	img := strings.Repeat("firmware ", 100)
	if _, err := repo.AddTarget(ctx, updaterepo.TargetName(rel, "fw.bin"), rel, strings.NewReader(img), int64(len(img))); err != nil {
		t.Fatal(err)
	}
	root, err := repo.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	cloud, _ := startCloud(t, cloudDir, "")
	_, _, token, err := cloud.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The site enrols once (at installation), then never reaches the
	// cloud again.
	enrolled, err := New(ctx, Options{DataDir: ccDir, CloudURL: cloud.URL(), RootCAs: cloud.RootCAs(), EnrolToken: token, Name: "air-gapped", Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := enrolled.Close(); err != nil {
		t.Fatal(err)
	}
	cc, err := New(ctx, Options{
		DataDir: ccDir, CloudURL: "https://127.0.0.1:1", Name: "air-gapped", Printers: []string{addr}, TrustNewPrinters: true,
		PollInterval: 20 * time.Millisecond, UploadInterval: 20 * time.Millisecond, BulkInterval: 100 * time.Millisecond,
		UpdateInterval: 50 * time.Millisecond, MaxBackoff: time.Second, RateBytes: 1 << 20, Logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, cc.Run)
	pending := func() int {
		n, err := cc.Store().Outbox().PendingCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	wait.For(t, "no records piled up in the outbox", 30*time.Second, func() bool { return pending() >= 20 })

	// The administrator hands over the cloud's public key, once.
	keyText, err := os.ReadFile(filepath.Join(cloudDir, "airgap.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := uplink.ParseCloudKey(keyText)
	if err != nil {
		t.Fatal(err)
	}
	pubText, err := key.Public().MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeFile(t, dir, "cloud-key.txt", pubText)
	if res, err := Import(ctx, ccDir, keyFile, ImportOptions{}); err != nil || res.Kind != ImportCloudKey {
		t.Fatalf("import the cloud key: %+v, %v", res, err)
	}

	// Export, beside the running node.
	var bundle bytes.Buffer
	var lastProgress [2]int
	m, err := Export(ctx, ccDir, &bundle, ExportOptions{Progress: func(done, total int) { lastProgress = [2]int{done, total} }})
	if err != nil {
		t.Fatal(err)
	}
	if m.Records < 20 || lastProgress[0] != m.Records {
		t.Fatalf("exported %d records, progress %v", m.Records, lastProgress)
	}

	// The cloud imports it, twice.
	gw, _, _, err := cc.Store().Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cloudDB, err := sql.Open("sqlite", filepath.Join(cloudDir, "cloud.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cloudDB.Close()
	var org fleet.OrgID
	if err := cloudDB.QueryRowContext(ctx, `SELECT org_id FROM gateways WHERE id = ?`, gw).Scan(&org); err != nil {
		t.Fatal(err)
	}
	first, err := cloud.Airgap().Import(ctx, org, bytes.NewReader(bundle.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if first.Records != m.Records || first.AlreadyImported {
		t.Errorf("first import: %d records, already imported %v; want %d, false", first.Records, first.AlreadyImported, m.Records)
	}
	again, err := cloud.Airgap().Import(ctx, org, bytes.NewReader(bundle.Bytes()))
	if err != nil || !again.AlreadyImported {
		t.Errorf("second import: %+v, %v; want already imported", again, err)
	}
	stored := func() []uint64 {
		rows, err := cloudDB.QueryContext(ctx, `SELECT seq FROM received WHERE gateway_id = ?1 UNION ALL SELECT record_seq FROM layers WHERE gateway_id = ?1
			UNION ALL SELECT record_seq FROM logs WHERE gateway_id = ?1 ORDER BY 1`, gw)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var seqs []uint64
		for rows.Next() {
			var s uint64
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, s)
		}
		return seqs
	}
	wait.For(t, "the cloud store did not receive the bundle's records", 30*time.Second, func() bool { return len(stored()) >= m.Records })
	seqs := stored()
	if len(seqs) != m.Records || len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
		t.Errorf("the cloud holds %d records of the gateway, want the bundle's %d, each once", len(seqs), m.Records)
	}
	for _, s := range seqs {
		if !fleet.InRanges(first.Held, s) {
			t.Errorf("the cloud holds seq %d, which the import does not list", s)
		}
	}

	// The acknowledgement goes back and trims the outbox.
	ack, err := cloud.Airgap().AckFile(ctx, org, gw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Import(ctx, ccDir, writeFile(t, dir, "ack.json", ack), ImportOptions{})
	if err != nil || res.Kind != ImportAck || res.Deleted != int64(m.Records) {
		t.Fatalf("import the acknowledgement: %+v, %v; want %d records deleted", res, err, m.Records)
	}
	rest, err := cc.Store().Outbox().Pending(ctx, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rest {
		if fleet.InRanges(first.Held, r.Seq) {
			t.Errorf("seq %d is still pending though the cloud holds it", r.Seq)
		}
	}

	// An update bundle comes back: verified against the printers' root,
	// mirrored, offered by the running node.
	var ub bytes.Buffer
	if err := cloud.WriteUpdateBundle(ctx, &ub); err != nil {
		t.Fatal(err)
	}
	up, err := Import(ctx, ccDir, writeFile(t, dir, "updates.zip", ub.Bytes()), ImportOptions{TrustedRoot: root})
	if err != nil || up.Kind != ImportUpdates || len(up.Targets) != 1 || up.Targets[0].Release.Version != "4.3.0" {
		t.Fatalf("import the update bundle: %+v, %v", up, err)
	}
	wait.For(t, "the running node does not offer the imported update", 10*time.Second, func() bool {
		ts := cc.UpdateTargets()
		return len(ts) == 1 && ts[0].Release.Version == "4.3.0"
	})
	// Another repository's bundle is refused: the node's mirror now
	// anchors the trust.
	other, err := updaterepo.InitRepo(t.TempDir(), updaterepo.RepoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ob bytes.Buffer
	if err := update.WriteBundle(ctx, &ob, update.NewHandler(other.Dir(), update.HandlerOptions{}), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(ctx, ccDir, writeFile(t, dir, "other.zip", ob.Bytes()), ImportOptions{}); err == nil || !strings.Contains(err.Error(), "do not verify") {
		t.Errorf("import another repository's bundle: %v, want a refusal", err)
	}
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
