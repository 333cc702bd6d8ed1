package cloud

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// TestPrinterIdentityThroughTheNode: through a whole node (uplink, stream,
// SQL writer, alert evaluator), two organisations whose gateways report a
// printer of the same ID are both answered 200 and both store and alert
// on their own printer; a gateway of another site of an organisation is
// refused the records of that organisation's printer, with 400 naming
// them, before anything is stored.
func TestPrinterIdentityThroughTheNode(t *testing.T) {
	ctx := t.Context()
	n := start(t, Options{})
	st := n.store
	const p = fleet.PrinterID("printer-shared-0001")
	type gateway struct {
		org  fleet.OrgID
		site fleet.SiteID
		cred uplink.Credentials
	}
	c, err := uplink.NewClient(n.URL(), uplink.ClientOptions{RootCAs: n.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	enrol := func(org fleet.OrgID, site fleet.SiteID) gateway {
		t.Helper()
		token, err := newEnrolmentToken(ctx, st, site, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		resp, err := c.Enrol(ctx, token, "gateway of "+string(site), pub)
		if err != nil {
			t.Fatal(err)
		}
		return gateway{org, site, uplink.Credentials{GatewayID: resp.GatewayID, Key: priv}}
	}
	var gws []gateway
	for _, name := range []string{"Alpha", "Bravo"} {
		org, err := st.CreateOrg(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		site, err := st.CreateSite(ctx, org, name+" plant")
		if err != nil {
			t.Fatal(err)
		}
		gws = append(gws, enrol(org, site))
	}
	now := time.Now()
	batch := func(name string) uplink.Batch {
		return uplink.Batch{Records: []fleet.Record{
			{Seq: 1, Kind: fleet.KindIdentity, PrinterID: p, Time: now, Identity: &fleet.Identity{PrinterID: p, Name: name, Model: "M1", SerialNumber: "SN-" + name}},
			{Seq: 2, Kind: fleet.KindEvent, PrinterID: p, Time: now, Event: &fleet.Event{Seq: 1, Code: "LAMP_FAIL", Description: name + " lamp", Severity: fleet.SeverityError, Time: now}},
			{Seq: 3, Kind: fleet.KindStatus, PrinterID: p, Time: now, Status: &fleet.Status{PrinterID: p, State: fleet.StatePrinting, Progress: 0.5, Time: now}},
		}}
	}
	names := []string{"Alpha's printer", "Bravo's printer"}
	for i, gw := range gws {
		if ack, err := c.Upload(ctx, gw.cred, batch(names[i])); err != nil || ack.Through != 3 {
			t.Fatalf("upload of %s = %+v, %v; want through 3", names[i], ack, err)
		}
	}
	keys := map[fleet.OrgID]fleet.PrinterID{}
	for i, gw := range gws {
		err := wait.Until(30*time.Second, 50*time.Millisecond, func() error {
			places, err := st.PrinterPlaces(ctx, gw.org, []fleet.PrinterID{p})
			if err != nil {
				return err
			}
			key := places[p].Key
			det, err := st.PrinterDetail(ctx, gw.org, key)
			if err != nil {
				return err
			}
			if det.View.Name != names[i] || det.DeviceID != p || det.View.State != fleet.StatePrinting {
				return fmt.Errorf("printer %+v", det)
			}
			alerts, err := st.Alerts(ctx, gw.org, alert.Filter{})
			if err != nil {
				return err
			}
			if len(alerts) != 1 || alerts[0].PrinterID != key || !strings.Contains(alerts[0].Detail, names[i][:5]) {
				return fmt.Errorf("alerts %+v", alerts)
			}
			keys[gw.org] = key
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", names[i], err)
		}
	}
	if keys[gws[0].org] == keys[gws[1].org] {
		t.Errorf("both organisations' printers have key %s", keys[gws[0].org])
	}

	// A gateway of Alpha's second site cannot pull Alpha's printer over.
	site2, err := st.CreateSite(ctx, gws[0].org, "Alpha second plant")
	if err != nil {
		t.Fatal(err)
	}
	gw2 := enrol(gws[0].org, site2)
	mixed := uplink.Batch{Records: []fleet.Record{
		{Seq: 1, Kind: fleet.KindStatus, PrinterID: p, Time: now, Status: &fleet.Status{PrinterID: p, State: fleet.StateError, Time: now}},
		{Seq: 2, Kind: fleet.KindStatus, PrinterID: "printer-own-0002", Time: now, Status: &fleet.Status{PrinterID: "printer-own-0002", State: fleet.StateIdle, Time: now}},
	}}
	_, err = c.Upload(ctx, gw2.cred, mixed)
	se, ok := errors.AsType[*uplink.StatusError](err)
	if !ok || se.Code != http.StatusBadRequest || !slices.Equal(se.Refused, []uint64{1}) ||
		!strings.Contains(se.Message, "printer "+string(p)+" belongs to site "+string(gws[0].site)) {
		t.Fatalf("upload from the second site = %v, want 400 refusing record 1", err)
	}
	// The rest goes through; Alpha's printer stays where it is, unchanged.
	if _, err := c.Upload(ctx, gw2.cred, uplink.Batch{Records: mixed.Records[1:]}); err != nil {
		t.Fatal(err)
	}
	err = wait.Until(30*time.Second, 50*time.Millisecond, func() error {
		places, err := st.PrinterPlaces(ctx, gws[0].org, []fleet.PrinterID{p, "printer-own-0002"})
		if err == nil && places["printer-own-0002"].SiteID != site2 {
			err = fmt.Errorf("places %v", places)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	det, err := st.PrinterDetail(ctx, gws[0].org, keys[gws[0].org])
	if err != nil || det.View.SiteID != gws[0].site || det.View.State != fleet.StatePrinting {
		t.Errorf("Alpha's printer: site %s, state %s, %v; want %s, printing", det.View.SiteID, det.View.State, err, gws[0].site)
	}
}
