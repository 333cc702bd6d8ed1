package commandcenter

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// canaryRole says what the canary test puts into a string field of the
// device API.
type canaryRole int

const (
	// roleAllowed: device data that may leave the site (R-DATA-*); it must
	// reach the cloud.
	roleAllowed canaryRole = iota
	// roleName: a private name (R-PRIV-2) — a distinct canary.
	roleName
	// rolePrivate: private, but not a name a printer writes into text (the
	// feed instance, the printer's own idea of a host ID) — a distinct canary.
	rolePrivate
	// roleText: free text, in which a careless printer writes private
	// names — ordinary words around one of the name canaries.
	roleText
)

// canaryRoles classifies every string field reachable from the device
// API's answers, by "type.Field" (a slice or map of strings by its field).
// A field added to the device API fails TestCanaryRolesCoverTheDeviceAPI
// until it is classified here, so the canary test covers it.
var canaryRoles = map[string]canaryRole{
	"deviceapi.Identity.Instance":            rolePrivate,
	"deviceapi.Page[fleet.Event].Instance":   rolePrivate, // served from the identity's instance
	"deviceapi.Page[deviceapi.Job].Instance": rolePrivate,
	"deviceapi.Page[fleet.Layer].Instance":   rolePrivate,
	"deviceapi.Page[fleet.LogLine].Instance": rolePrivate,
	"fleet.Identity.PrinterID":               roleAllowed,
	"fleet.Identity.Name":                    roleAllowed,
	"fleet.Identity.Model":                   roleAllowed,
	"fleet.Identity.ModelNumber":             roleAllowed,
	"fleet.Identity.SerialNumber":            roleAllowed,
	"fleet.Identity.Firmware":                roleAllowed,
	"fleet.Identity.ParameterSet":            roleAllowed,
	"fleet.Identity.Size":                    roleAllowed,
	"deviceapi.Status.Activity":              roleText,
	"deviceapi.CurrentJob.ID":                roleAllowed,
	"deviceapi.JobPrivate.Name":              roleName,
	"deviceapi.JobPrivate.User":              roleName,
	"deviceapi.JobPrivate.Host":              roleName,
	"deviceapi.PartPrivate.Name":             roleName,
	"deviceapi.PartPrivate.GeometryRef":      roleName,
	"fleet.Event.Code":                       roleAllowed,
	"fleet.Event.Description":                roleText,
	"fleet.Event.Firmware":                   roleAllowed,
	"fleet.Event.Subsystem":                  roleAllowed,
	"fleet.Event.Details":                    roleText,
	"fleet.Job.ID":                           roleAllowed,
	"fleet.Job.SourceApp":                    roleText,
	"fleet.Job.SourceHostID":                 rolePrivate, // replaced by the gateway's pseudonym
	"fleet.Job.Material":                     roleAllowed,
	"fleet.Job.PartMaterials":                roleAllowed,
	"fleet.Job.PrintMode":                    roleAllowed,
	"fleet.Job.ParameterSet":                 roleAllowed,
	"fleet.Job.BuildUnitID":                  roleAllowed,
	"fleet.Job.Status":                       roleAllowed,
	"fleet.JobWarning.ID":                    roleAllowed,
	"fleet.JobWarning.Message":               roleText,
	"fleet.SubJob.Kind":                      roleText,
	"fleet.SubJob.Status":                    roleAllowed,
	"fleet.Part.ID":                          roleAllowed,
	"fleet.Part.JobID":                       roleAllowed,
	"fleet.Part.Outcome":                     roleAllowed,
	"fleet.Part.CompletionDetails":           roleText,
	"fleet.Layer.JobID":                      roleAllowed,
	"fleet.LogLine.Log":                      roleAllowed,
	"fleet.LogLine.Text":                     roleText,
	"fleet.Counters.AgentsConsumedML":        roleAllowed,
	"fleet.CleaningRoll.PartNumber":          roleAllowed,
	"fleet.CleaningRoll.Status":              roleAllowed,
	"fleet.AgentSupply.Agent":                roleAllowed,
	"fleet.AgentSupply.SupplyStatus":         roleAllowed,
	"fleet.Printhead.Type":                   roleAllowed,
	"fleet.Printhead.UUID":                   roleAllowed,
	"fleet.Printhead.Status":                 roleAllowed,
	"fleet.Printhead.PartNumber":             roleAllowed,
	"fleet.Printhead.SerialNumber":           roleAllowed,
	"fleet.Printhead.LastErrorCode":          roleAllowed,
	"fleet.Printhead.WarrantyStatus":         roleAllowed,
	"fleet.BuildUnit.PartNumber":             roleAllowed,
	"fleet.BuildUnit.SerialNumber":           roleAllowed,
	"fleet.BuildUnit.Status":                 roleAllowed,
	"fleet.BuildUnit.Material":               roleAllowed,
	"fleet.BuildUnitPrinter.ProductNumber":   roleAllowed,
	"fleet.BuildUnitPrinter.SerialNumber":    roleAllowed,
	"fleet.BuildUnitPrinter.Firmware":        roleAllowed,
	"fleet.Lamp.Position":                    roleAllowed,
	"fleet.Lamp.Status":                      roleAllowed,
}

// canaryTypeName names a type as canaryRoles does.
func canaryTypeName(t reflect.Type) string {
	return strings.ReplaceAll(t.String(), "github.com/fusionfleet/fusionfleet/internal/", "")
}

// deviceStringFields returns every string field reachable from the device
// API's answers, as "type.Field".
func deviceStringFields() map[string]bool {
	fields := map[string]bool{}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if seen[t] || t == reflect.TypeFor[time.Time]() {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Map {
				if ft.Key().Kind() == reflect.String {
					fields[canaryTypeName(t)+"."+f.Name] = true
				}
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.String:
				fields[canaryTypeName(t)+"."+f.Name] = true
			case reflect.Struct:
				walk(ft)
			}
		}
	}
	for _, root := range []reflect.Type{
		reflect.TypeFor[deviceapi.Identity](), reflect.TypeFor[deviceapi.Status](),
		reflect.TypeFor[deviceapi.EventPage](), reflect.TypeFor[deviceapi.JobPage](),
		reflect.TypeFor[deviceapi.LayerPage](), reflect.TypeFor[deviceapi.LogPage](),
		reflect.TypeFor[fleet.Counters](), reflect.TypeFor[fleet.Consumables](),
	} {
		walk(root)
	}
	return fields
}

func TestCanaryRolesCoverTheDeviceAPI(t *testing.T) {
	fields := deviceStringFields()
	for f := range fields {
		if _, ok := canaryRoles[f]; !ok {
			t.Errorf("string field %s of the device API has no role in canaryRoles: decide whether it is allowed, private or free text", f)
		}
	}
	for f := range canaryRoles {
		if !fields[f] {
			t.Errorf("canaryRoles names %s, which the device API does not have", f)
		}
	}
}

// eachString calls fn for every string reachable from v, with the
// "type.Field" it is in. Strings fn may set are settable; map keys are not.
func eachString(v reflect.Value, field string, fn func(field string, s reflect.Value)) {
	switch v.Kind() {
	case reflect.String:
		fn(field, v)
	case reflect.Pointer:
		if !v.IsNil() {
			eachString(v.Elem(), field, fn)
		}
	case reflect.Slice:
		for i := range v.Len() {
			eachString(v.Index(i), field, fn)
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		for _, k := range keys {
			eachString(k, field, fn)
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			eachString(e, field, fn)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			eachString(v.Field(i), canaryTypeName(v.Type())+"."+v.Type().Field(i).Name, fn)
		}
	}
}

// canaryPrinter is a printer whose answers hold valid device data, with a
// distinct canary in every private field and a private name written into
// every free-text field.
type canaryPrinter struct {
	dev      *fakeDevice
	canaries []string // every canary, names and others
	names    []string // the canaries that are names
	allowed  []string // every allowed string value set
}

func newCanaryPrinter(t *testing.T) *canaryPrinter {
	t.Helper()
	d := newFakeDevice("printer-c0ffee01")
	jobPriv := func() deviceapi.JobPrivate { return deviceapi.JobPrivate{Name: "-", User: "-", Host: "-"} }
	part := func(job, id string, outcome fleet.PartOutcome) deviceapi.Part {
		return deviceapi.Part{
			Part: fleet.Part{ID: id, JobID: job, CreatedAt: t0, PrintStart: t0, PrintEnd: t0.Add(time.Hour),
				BoundingBox: fleet.Box{Max: fleet.Vec3{X: 10, Y: 10, Z: 10}}, VolumeCM3: 12, SurfaceCM2: 30,
				MaterialG: 15, Outcome: outcome, CompletionDetails: "-"},
			Private: deviceapi.PartPrivate{Name: "-", GeometryRef: "-"},
		}
	}
	job := func(seq uint64, id string, status fleet.JobStatus) deviceapi.Job {
		return deviceapi.Job{
			Seq: seq,
			Job: fleet.Job{ID: id, CreatedAt: t0, StartedAt: t0, SourceApp: "-", SourceHostID: "-",
				BoundingBox: fleet.Box{Max: fleet.Vec3{X: 300, Y: 200, Z: 300}}, VolumeCM3: 900, SurfaceCM2: 4000,
				Density: 0.1, LayerCount: 100, LayerThicknessMM: 0.08, Material: "PA12", PartMaterials: []string{"PA12", "PA11"},
				RecyclableKG: 4, PrintMode: "balanced", ParameterSet: "PA12-balanced-7", BuildUnitID: "BU-SN-4411",
				Status: status, LayersDone: 40, PartCount: 2,
				Warnings: []fleet.JobWarning{
					{ID: "W-" + id + "-1", Message: "-", Severity: fleet.SeverityWarning, Time: t0},
					{ID: "W-" + id + "-2", Message: "-", Severity: fleet.SeverityInfo, Time: t0},
				},
				SubJobs: []fleet.SubJob{
					{Kind: "-", Status: "done", CompletionPercent: 100, DurationSec: 60, Start: t0, End: t0.Add(time.Minute)},
					{Kind: "-", Status: "running", CompletionPercent: 40, DurationSec: 600, Start: t0},
				},
			},
			Private: jobPriv(),
			Parts:   []deviceapi.Part{part(id, "P-"+id+"-1", fleet.PartPass), part(id, "P-"+id+"-2", fleet.PartWarp)},
		}
	}
	d.identity = deviceapi.Identity{
		Identity: fleet.Identity{PrinterID: "printer-c0ffee01", Name: "3DP North", Model: "PBF 5200", ModelNumber: "M0P44A",
			SerialNumber: "SN-CC-0001", Firmware: "5.4.1", ParameterSet: "PA12-balanced-7", Size: "380x284x380 mm",
			DiskBytes: 1 << 40, MemoryBytes: 1 << 34, Date: t0, UptimeSec: 100},
		Instance: "-",
	}
	d.status = deviceapi.Status{State: fleet.StatePrinting, Activity: "-", ETCSeconds: 3600, PendingJobs: 2, Time: t0,
		Job: &deviceapi.CurrentJob{ID: "J7Qx2aa3", Progress: 0.4, LayersDone: 40, LayersTotal: 100, Private: jobPriv()}}
	// The events the printer still holds start at 2: event 1 was
	// overwritten before the gateway first read, a gap.
	d.events = []fleet.Event{
		{Seq: 2, Code: "E-201", Description: "-", Severity: fleet.SeverityWarning, Time: t0, Firmware: "5.4.1", Subsystem: "lamps", Details: "-"},
		{Seq: 3, Code: "E-305", Description: "-", Severity: fleet.SeverityInfo, Time: t0, Firmware: "5.4.1", Subsystem: "powder", Details: "-"},
	}
	d.jobs = []deviceapi.Job{job(1, "J4kd93Lq", fleet.JobCompleted), job(2, "J8Pz1mWe", fleet.JobPrinting)}
	d.layers = []fleet.Layer{
		{Seq: 1, JobID: "J8Pz1mWe", Index: 1, SizeMM2: 3400, DurationSec: 9, Start: t0, End: t0.Add(9 * time.Second)},
		{Seq: 2, JobID: "J8Pz1mWe", Index: 2, SizeMM2: 3500, DurationSec: 9, Start: t0.Add(9 * time.Second), End: t0.Add(18 * time.Second)},
	}
	for _, k := range fleet.LogKinds() {
		d.logs[k] = []fleet.LogLine{{Seq: 1, Log: k, Time: t0, Text: "-"}, {Seq: 2, Log: k, Time: t0.Add(time.Second), Text: "-"}}
	}
	d.counters = fleet.Counters{TotalJobs: 12, CompletedJobs: 10, Layers: 5000, Parts: 300, PrintVolumeCM3: 9000,
		AgentsConsumedML: map[string]float64{"fusing": 1200, "detailing": 800}, Time: t0}
	d.consumables = fleet.Consumables{
		CleaningRoll: fleet.CleaningRoll{PartNumber: "CR-3ED58A", Status: "ok", UsagePercent: 20},
		Agents:       []fleet.AgentSupply{{Agent: "fusing", UsedCC: 900, BuildUnitInserts: 12, SupplyStatus: "ok", SupplyLevelPercent: 60}},
		Printheads: []fleet.Printhead{{Slot: 1, Type: "fusing/detailing", UUID: "ph-8f2e61d0", Status: "ok", PartNumber: "3ED58A",
			SerialNumber: "PH-SN-77120", InstallDate: t0, UsageHours: 120, LastErrorCode: "PH-ERR-12", LastErrorTime: t0,
			WarrantyEnd: t0.AddDate(1, 0, 0), WarrantyStatus: "in warranty", ManufactureDate: t0.AddDate(-1, 0, 0)}},
		BuildUnits: fleet.BuildUnits{TotalInserts: 30, Installed: &fleet.BuildUnit{PartNumber: "BU-5200", SerialNumber: "BU-SN-4411",
			Inserts: 30, Status: "printing", Material: "PA12", RecycledPercent: 80, MaterialKG: 20,
			Printers: []fleet.BuildUnitPrinter{{ProductNumber: "M0P44A", SerialNumber: "SN-CC-0001", Firmware: "5.4.1", Connected: t0}}}},
		Lamps: []fleet.Lamp{{Position: "fusing-1", Hours: 300, IntensityPercent: 90, Status: "ok"}},
		Time:  t0,
	}

	cp := &canaryPrinter{dev: d}
	var roots []reflect.Value
	for _, r := range []any{&d.identity, &d.status, &d.events, &d.jobs, &d.layers, &d.counters, &d.consumables} {
		roots = append(roots, reflect.ValueOf(r).Elem())
	}
	for _, k := range fleet.LogKinds() {
		roots = append(roots, reflect.ValueOf(d.logs[k])) // a slice's elements are settable
	}
	seen := map[string]bool{}
	// First the canaries, so that the free text can name any of them.
	for _, root := range roots {
		eachString(root, "", func(field string, s reflect.Value) {
			seen[field] = true
			role, ok := canaryRoles[field]
			if !ok {
				t.Fatalf("string field %s has no role in canaryRoles", field)
			}
			switch role {
			case roleName, rolePrivate:
				c := fmt.Sprintf("CANARY-%s-%d-7f3a", strings.ToUpper(strings.ReplaceAll(field, ".", "-")), len(cp.canaries)+1)
				s.SetString(c)
				cp.canaries = append(cp.canaries, c)
				if role == roleName {
					cp.names = append(cp.names, c)
				}
			case roleAllowed:
				if s.String() == "" || s.String() == "-" {
					t.Fatalf("allowed field %s has no value in the canary printer", field)
				}
				cp.allowed = append(cp.allowed, s.String())
			}
		})
	}
	// Then the free text: ordinary words around a private name, every
	// name used, some in another case, as careless firmware would write.
	texts := []string{"printing Bracket %s layer 3", "%s: powder low", "job %s cooled", "part %s warped 0.4 mm",
		"lamp check during %s", "user %s cancelled", "sent from %s"}
	n := 0
	for _, root := range roots {
		eachString(root, "", func(field string, s reflect.Value) {
			if canaryRoles[field] != roleText {
				return
			}
			name := cp.names[n%len(cp.names)]
			if n%3 == 2 {
				name = strings.ToLower(name)
			}
			s.SetString(fmt.Sprintf(texts[n%len(texts)], name))
			n++
		})
	}
	if n < len(cp.names) {
		t.Fatalf("%d free-text fields for %d names: not every name is written into text", n, len(cp.names))
	}
	// Every field the device API has must have been given a value, so a
	// new field cannot escape the test by staying empty.
	for f := range deviceStringFields() {
		if !seen[f] && !strings.HasPrefix(f, "deviceapi.Page[") { // the pages carry the identity's instance
			t.Errorf("string field %s got no value in the canary printer", f)
		}
	}
	return cp
}

// recordingCloud is the cloud side of the uplink with in-memory gateways and
// stream: it records every request body as sent and every envelope
// published.
type recordingCloud struct {
	gateway fleet.GatewayID
	pub     ed25519.PublicKey
	// sites binds printers of the gateway's organisation to sites.
	sites map[fleet.PrinterID]fleet.SiteID

	mu        sync.Mutex
	bodies    [][]byte // as sent: compressed
	encodings []string
	published [][]byte // envelopes, decompressed
}

func (c *recordingCloud) Enrol(context.Context, string, string, []byte, time.Time) (fleet.Gateway, error) {
	return fleet.Gateway{}, fleet.ErrInvalidToken // enrolment is not part of this test
}

func (c *recordingCloud) Gateway(_ context.Context, id fleet.GatewayID) (fleet.Gateway, error) {
	if id != c.gateway {
		return fleet.Gateway{}, fleet.ErrNotFound
	}
	return fleet.Gateway{ID: id, OrgID: "org-canary", SiteID: "site-canary", Name: "canary site", PublicKey: c.pub}, nil
}

func (c *recordingCloud) PrinterPlaces(_ context.Context, _ fleet.OrgID, devices []fleet.PrinterID) (map[fleet.PrinterID]fleet.PrinterPlace, error) {
	out := map[fleet.PrinterID]fleet.PrinterPlace{}
	for _, p := range devices {
		out[p] = fleet.PrinterPlace{Key: p, SiteID: c.sites[p]}
	}
	return out, nil
}

func (c *recordingCloud) Publish(_ context.Context, _ string, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.published = append(c.published, bytes.Clone(data))
	return nil
}

// record keeps each request's body before h reads it.
func (c *recordingCloud) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		c.mu.Lock()
		c.bodies = append(c.bodies, body)
		c.encodings = append(c.encodings, r.Header.Get("Content-Encoding"))
		c.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	})
}

// canaryCloud is the uploader's Cloud: a real uplink client with the
// gateway's credentials.
type canaryCloud struct {
	client *uplink.Client
	cred   uplink.Credentials
}

func (c canaryCloud) Upload(ctx context.Context, b uplink.Batch) (uplink.Ack, error) {
	return c.client.Upload(ctx, c.cred, b)
}

// TestNoCanaryReachesTheCloud feeds a printer's answers, with canaries in
// every private field and private names written into every free-text
// field, through the whole Command Center (real device API over pinned
// TLS, poller, store, outbox, uploader, real uplink client and handler)
// and checks that no canary is in any byte the cloud received, compressed
// or not, nor in anything it published (R-PRIV-1, R-PRIV-2).
func TestNoCanaryReachesTheCloud(t *testing.T) {
	ctx := t.Context()
	clk := clock.NewManual(t0)
	cp := newCanaryPrinter(t)
	printer := startPrinter(t, deviceHandler(t, served{cp.dev}), nil)

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cloud := &recordingCloud{gateway: "gw-canary", pub: pub}
	srv := httptest.NewUnstartedServer(cloud.record(uplink.NewHandler(cloud, cloud, cloud, uplink.HandlerOptions{Clock: clk})))
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
	pr, err := st.AddPrinter(ctx, printer.addr(), printer.pin, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	const every = 5 * time.Second
	p := NewPoller(st, realDialer(5*time.Second, 0), PollerOptions{Interval: every, EventInterval: every,
		FeedInterval: every, SnapshotInterval: every, Clock: clk})
	for range 3 {
		if err := p.PollOnce(ctx); err != nil {
			t.Fatalf("PollOnce: %v", err)
		}
		clk.Advance(every)
	}
	for _, k := range fleet.LogKinds() {
		if n, err := p.RequestLogs(ctx, pr.ID, k, time.Time{}); err != nil || n != 2 {
			t.Fatalf("RequestLogs(%s) = %d, %v; want 2 lines", k, n, err)
		}
	}

	const bulk = time.Minute
	u := NewUploader(st, canaryCloud{client, uplink.Credentials{GatewayID: cloud.gateway, Key: priv}},
		UploaderOptions{Clock: clk, RateBytes: -1, BulkInterval: bulk})
	for i := 0; ; i++ {
		n, err := st.Outbox().PendingCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if i == 200 {
			t.Fatalf("%d records still pending after %d steps", n, i)
		}
		wait, err := u.Step(ctx)
		if err != nil {
			t.Fatalf("Step: %v", err)
		}
		clk.Advance(min(max(wait, time.Second), bulk+time.Second))
	}

	cloud.mu.Lock()
	defer cloud.mu.Unlock()
	if len(cloud.bodies) == 0 || len(cloud.published) == 0 {
		t.Fatalf("the cloud received %d bodies and published %d envelopes", len(cloud.bodies), len(cloud.published))
	}
	var everything [][]byte
	zd, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zd.Close()
	for i, b := range cloud.bodies {
		everything = append(everything, b)
		var raw []byte
		switch cloud.encodings[i] {
		case "zstd":
			raw, err = zd.DecodeAll(b, nil)
		case "gzip":
			var zr *gzip.Reader
			if zr, err = gzip.NewReader(bytes.NewReader(b)); err == nil {
				raw, err = io.ReadAll(zr)
			}
		default:
			err = fmt.Errorf("unexpected encoding %q", cloud.encodings[i])
		}
		if err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		everything = append(everything, raw)
	}
	everything = append(everything, cloud.published...)
	for i, b := range everything {
		lower := bytes.ToLower(b)
		for _, c := range cp.canaries {
			if bytes.Contains(lower, []byte(strings.ToLower(c))) {
				t.Errorf("the cloud received canary %s (payload %d): %s", c, i, b)
			}
		}
	}

	// Not vacuous: records of every kind arrived, with every allowed value.
	got := map[fleet.Kind]int{}
	var published bytes.Buffer
	for _, b := range cloud.published {
		var env fleet.Envelope
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("published envelope: %v", err)
		}
		for _, r := range env.Records {
			got[r.Kind]++
		}
		published.Write(b)
	}
	for _, k := range []fleet.Kind{fleet.KindIdentity, fleet.KindStatus, fleet.KindEvent, fleet.KindJob, fleet.KindPart,
		fleet.KindLayer, fleet.KindCounters, fleet.KindConsumables, fleet.KindLog, fleet.KindGap} {
		if got[k] == 0 {
			t.Errorf("no %s record reached the cloud (got %v)", k, got)
		}
	}
	if got[fleet.KindLog] != 2*len(fleet.LogKinds()) {
		t.Errorf("%d log records reached the cloud, want %d", got[fleet.KindLog], 2*len(fleet.LogKinds()))
	}
	for _, s := range cp.allowed {
		if !bytes.Contains(published.Bytes(), []byte(`"`+s+`"`)) {
			t.Errorf("allowed value %q did not reach the cloud", s)
		}
	}
	for _, s := range []string{"printing Bracket [private] layer 3", "[private]: powder low"} {
		if !bytes.Contains(published.Bytes(), []byte(s)) {
			t.Errorf("free text %q did not reach the cloud with the name scrubbed", s)
		}
	}

	// The site itself still knows the names, for its own UI.
	jobs, err := st.Jobs(ctx, pr.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || !slices.Contains(cp.names, jobs[0].Job.Private.Name) {
		t.Errorf("local jobs %+v: want both jobs with their private names", jobs)
	}
}
