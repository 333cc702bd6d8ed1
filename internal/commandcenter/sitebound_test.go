package commandcenter

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/google/go-cmp/cmp"
)

// TestPrinterOfAnotherSiteIsSetAside: the cloud refuses the records of a
// printer that belongs to another site of the organisation (through the
// real uplink client and handler); the Command Center sets aside exactly
// those, with the cloud's reason, and the rest of the batch reaches the
// cloud at the next step.
func TestPrinterOfAnotherSiteIsSetAside(t *testing.T) {
	ctx := t.Context()
	clk := clock.NewManual(t0.Add(time.Hour)) // the records are old: bulk
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cloud := &recordingCloud{gateway: "gw-a", pub: pub, sites: map[fleet.PrinterID]fleet.SiteID{"printer-0002": "site-b"}}
	srv := httptest.NewUnstartedServer(uplink.NewHandler(cloud, cloud, cloud, uplink.HandlerOptions{Clock: clk}))
	srv.Config.ReadHeaderTimeout = 5 * time.Second
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	client, err := uplink.NewClient(srv.URL, uplink.ClientOptions{RootCAs: roots, Clock: clk,
		Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := openStore(t)
	var recs []fleet.Record
	for i, p := range []fleet.PrinterID{"printer-0001", "printer-0002", "printer-0001", "printer-0002", "printer-0003"} {
		recs = append(recs, statusRec(p, t0.Add(time.Duration(i)*time.Second)))
	}
	if err := st.Outbox().Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	u := NewUploader(st, canaryCloud{client, uplink.Credentials{GatewayID: cloud.gateway, Key: priv}},
		UploaderOptions{Clock: clk, RateBytes: -1, Retryable: uplink.Retryable})
	if _, err := u.Step(ctx); !errors.Is(err, errQuarantined) {
		t.Fatalf("first step = %v, want the batch's refusal", err)
	}
	if _, err := u.Step(ctx); err != nil {
		t.Fatalf("second step = %v, want the rest accepted", err)
	}
	qs, err := st.Outbox().Quarantined(ctx)
	if err != nil || len(qs) != 1 || qs[0].FirstSeq != 2 || qs[0].LastSeq != 4 || qs[0].Records != 2 ||
		!strings.Contains(qs[0].Reason, "printer printer-0002 belongs to site site-b; an administrator can move it") {
		t.Fatalf("Quarantined() = %+v, %v; want printer-0002's 2 records with the cloud's reason", qs, err)
	}
	if n, err := st.Outbox().PendingCount(ctx); err != nil || n != 0 {
		t.Errorf("pending = %d, %v; want none", n, err)
	}
	cloud.mu.Lock()
	published := cloud.published
	cloud.mu.Unlock()
	if len(published) != 1 {
		t.Fatalf("published %d envelopes, want 1", len(published))
	}
	env, err := fleet.DecodeEnvelope(published[0])
	if err != nil {
		t.Fatal(err)
	}
	var got []fleet.PrinterID
	for _, r := range env.Records {
		got = append(got, r.PrinterID)
	}
	if diff := cmp.Diff([]fleet.PrinterID{"printer-0001", "printer-0001", "printer-0003"}, got); diff != "" {
		t.Errorf("printers of the stored records (-want +got):\n%s", diff)
	}
}

// TestRefusedSeqs: a refusal sets aside the records it names, when it
// names some of the batch's, and the whole batch otherwise.
func TestRefusedSeqs(t *testing.T) {
	var recs []fleet.Record
	for seq := range uint64(3) {
		r := gapRec(seq + 1)
		r.Seq = seq + 1
		recs = append(recs, r)
	}
	tests := []struct {
		name string
		err  error
		want []uint64
	}{
		{"not a status", errors.New("refused"), []uint64{1, 2, 3}},
		{"names none", &uplink.StatusError{Code: 400}, []uint64{1, 2, 3}},
		{"names some", &uplink.StatusError{Code: 400, Refused: []uint64{3, 1}}, []uint64{1, 3}},
		{"names others only", &uplink.StatusError{Code: 400, Refused: []uint64{7}}, []uint64{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, refusedSeqs(tt.err, recs)); diff != "" {
				t.Errorf("refusedSeqs (-want +got):\n%s", diff)
			}
		})
	}
}
