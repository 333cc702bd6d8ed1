package localui

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox/outboxtest"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// The local UI's tests run on a real Command Center store in a temporary
// directory, set up through the store's own API.

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const fpA = deviceapi.Fingerprint("AA:BB")

func openStore(t *testing.T) *commandcenter.Store {
	t.Helper()
	st, err := commandcenter.Open(t.Context(), filepath.Join(t.TempDir(), "cc.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// appendN puts n gap records in the outbox.
func appendN(t *testing.T, st *commandcenter.Store, n int) {
	t.Helper()
	var recs []fleet.Record
	for i := range n {
		recs = append(recs, outboxtest.Gap(uint64(i+1), t0))
	}
	if err := st.Outbox().Append(t.Context(), recs...); err != nil {
		t.Fatal(err)
	}
}

func printingStatus(jobID string, etc int64) deviceapi.Status {
	return deviceapi.Status{
		State: fleet.StatePrinting, Activity: "printing layer 10 of 100",
		Job: &deviceapi.CurrentJob{ID: jobID, Private: deviceapi.JobPrivate{Name: "CANARY-job-name", User: "CANARY-job-user", Host: "CANARY-job-host"},
			Progress: 0.1, LayersDone: 10, LayersTotal: 100},
		ETCSeconds: etc, PendingJobs: 1, Time: t0,
	}
}

// printingJob is job-1, printing, with one part that passed, and its
// private names.
func printingJob() deviceapi.Job {
	private := deviceapi.JobPrivate{Name: "CANARY-job-name", User: "CANARY-job-user", Host: "CANARY-job-host"}
	part := deviceapi.Part{Part: fleet.Part{ID: "job-1-p1", JobID: "job-1", CreatedAt: t0, VolumeCM3: 1, Outcome: fleet.PartPass},
		Private: deviceapi.PartPrivate{Name: "CANARY-part-name", GeometryRef: "CANARY-geometry"}}
	return deviceapi.Job{Seq: 1, Private: private, Parts: []deviceapi.Part{part},
		Job: fleet.Job{ID: "job-1", CreatedAt: t0, SourceApp: "prep 5", Status: fleet.JobPrinting, LayerCount: 100, Material: "PA12", PartCount: 1}}
}

// ackAll is a cloud that acknowledges every batch.
type ackAll struct{}

func (ackAll) Upload(_ context.Context, b uplink.Batch) (uplink.Ack, error) {
	return uplink.Ack{Through: b.Records[len(b.Records)-1].Seq}, nil
}

// wantCheck asserts the status of a self-test check and words in its
// message.
func wantCheck(t *testing.T, r commandcenter.Report, name string, status commandcenter.CheckStatus, words ...string) {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name != name {
			continue
		}
		if c.Status != status {
			t.Errorf("%s: status %s (%q), want %s", name, c.Status, c.Message, status)
		}
		for _, w := range words {
			if !strings.Contains(c.Message, w) {
				t.Errorf("%s: message %q lacks %q", name, c.Message, w)
			}
		}
		return
	}
	t.Fatalf("report has no check %q: %+v", name, r.Checks)
}

// healthyCloud is a self-test of a site whose cloud is a TLS server on
// loopback answering 404, with a local UI listening and a host that does
// not sleep.
func healthyCloud(t *testing.T) commandcenter.SelfTestConfig {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // probes hang up after the handshake
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ui, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Close() })
	return commandcenter.SelfTestConfig{
		CloudURL:   srv.URL,
		RootCAs:    srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs,
		Proxy:      func(*http.Request) (*url.URL, error) { return nil, nil },
		LocalUI:    ui.Addr().String(),
		SleepState: func(context.Context, string) (string, error) { return "masked", nil },
		Timeout:    5 * time.Second,
	}
}
