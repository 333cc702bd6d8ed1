package updaterepo

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

const (
	model4200 = "FF-4200"
	model5200 = "FF-5200"
)

// fixture is a repository, a mirror serving it over TLS on loopback (able
// to turn malicious per path) and the state directory of one printer.
type fixture struct {
	t      testing.TB
	clk    *clock.Manual
	repo   *Repo
	mirror *mirror
	root   []byte // the root the printer pinned at manufacture
	state  string
	dev    *fakeDevice
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC))
	repo, err := InitRepo(t.TempDir(), RepoOptions{Clock: clk, RootKeys: 3, RootThreshold: 2, TargetsKeys: 2, TargetsThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	root, err := repo.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, clk: clk, repo: repo, mirror: newMirror(t, repo.Dir()), root: root, state: t.TempDir(), dev: &fakeDevice{}}
}

// client starts (or restarts) the printer's update client.
func (f *fixture) client(model string) *update.Client {
	f.t.Helper()
	c, err := update.NewClient(f.state, f.root, f.mirror.srv.URL, model, update.Options{
		Clock: f.clk, HTTPClient: f.mirror.srv.Client(), PrinterID: "printer-1", Site: "plant-a",
		Factory: map[update.Kind]update.Slot{update.KindFirmware: {Version: "4.2.9"}, update.KindParameters: {Version: "2.1", Name: "std-4200-2.1"}},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// release adds a target with deterministic content and returns it.
func (f *fixture) release(rel update.Release) TargetInfo {
	f.t.Helper()
	content := bytes.Repeat([]byte(string(rel.Kind)+" "+rel.Version+" "), 1000)
	name := TargetName(rel, "image.bin")
	if rel.Kind == update.KindParameters {
		// A parameter set is a document the printer reads.
		set := fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: cmp.Or(rel.Name, rel.Version), Model: rel.Models[0],
			Materials: map[string]fleet.MaterialParameters{"PA12": {RefreshRatio: 0.25}}, Notes: rel.Notes}
		var err error
		if content, err = set.Encode(); err != nil {
			f.t.Fatal(err)
		}
		name = TargetName(rel, "set.json")
	}
	return f.releaseContent(rel, name, content)
}

// releaseContent adds a target with the given content and returns it.
func (f *fixture) releaseContent(rel update.Release, name string, content []byte) TargetInfo {
	f.t.Helper()
	ti, err := f.repo.AddTarget(context.Background(), name, rel, bytes.NewReader(content), int64(len(content)))
	if err != nil {
		f.t.Fatal(err)
	}
	return ti
}

func firmware(version string, models ...string) update.Release {
	return update.Release{Kind: update.KindFirmware, Version: version, Models: models, MinVersion: "4.0.0", Notes: "fixes recoater jam"}
}

// meta returns the current bytes of a repository metadata file.
func (f *fixture) meta(name string) []byte {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.repo.Dir(), update.MetadataDir, name))
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// targetPath is the mirror path of a target (hash-prefixed).
func targetPath(ti TargetInfo) string { return "/tuf/targets/" + ti.SHA256 + "." + ti.Name }

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// mirror serves a repository directory like a Command Center would, except
// for paths an attack overrides.
type mirror struct {
	srv      *httptest.Server
	mu       sync.Mutex
	override map[string]http.HandlerFunc // by URL path; "*" for every path
}

func newMirror(t testing.TB, dir string) *mirror {
	m := &mirror{override: map[string]http.HandlerFunc{}}
	repo := update.NewHandler(dir, update.HandlerOptions{})
	m.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		h, ok := m.override[r.URL.Path]
		if !ok {
			h, ok = m.override["*"]
		}
		m.mu.Unlock()
		if ok {
			h(w, r)
			return
		}
		repo.ServeHTTP(w, r)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *mirror) set(path string, h http.HandlerFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.override[path] = h
}

func (m *mirror) serve(path string, b []byte) {
	m.set(path, func(w http.ResponseWriter, r *http.Request) { w.Write(b) })
}

// endless streams zeros until the client hangs up.
func endless(w http.ResponseWriter, r *http.Request) {
	buf := make([]byte, 32<<10)
	for r.Context().Err() == nil {
		if _, err := w.Write(buf); err != nil {
			return
		}
	}
}

// fakeDevice records what the agent told it.
type fakeDevice struct {
	mu    sync.Mutex
	calls []string
	busy  error // BeginUpdate's answer
}

func (d *fakeDevice) BeginUpdate() (func(), error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy != nil {
		return nil, d.busy
	}
	d.calls = append(d.calls, "begin")
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.calls = append(d.calls, "end")
	}, nil
}

func (d *fakeDevice) SetFirmware(v string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, "firmware "+v)
}

func (d *fakeDevice) SetParameterSet(n string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, "parameters "+n)
}

func (d *fakeDevice) Calls() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.calls, "; ")
}
