package e2e

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/fusionfleet/fusionfleet"

// pkg is what the architecture tests need to know of a package.
type pkg struct {
	doc     bool
	imports []string // import paths, test files excluded
}

// loadPackages parses every non-test Go file of the module (imports and
// comments only).
func loadPackages(t *testing.T) map[string]*pkg {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]*pkg{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		ip := module
		if rel != "." {
			ip += "/" + filepath.ToSlash(rel)
		}
		p := pkgs[ip]
		if p == nil {
			p = &pkg{}
			pkgs[ip] = p
		}
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			p.doc = true
		}
		for _, is := range f.Imports {
			s, _ := strconv.Unquote(is.Path.Value)
			if !slices.Contains(p.imports, s) {
				p.imports = append(p.imports, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// deps returns the module-internal packages that ip imports, transitively.
func deps(pkgs map[string]*pkg, ip string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		if pkgs[p] == nil {
			return
		}
		for _, d := range pkgs[p].imports {
			if strings.HasPrefix(d, module+"/") && !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(ip)
	return seen
}

// Rule 14 of the style guide: every package says what it is for.
func TestEveryPackageHasAComment(t *testing.T) {
	for ip, p := range loadPackages(t) {
		if !p.doc {
			t.Errorf("package %s has no package comment", ip)
		}
	}
}

// The tiers stay apart: what runs on a customer's site never links cloud
// code, and the cloud never links site code. Shared: fleet (vocabulary),
// uplink (the protocol both ends speak), update (the verifying client and
// the mirror; the repository and publishing are updaterepo's, the
// cloud's), clock, and helpers such as tlsca (the cloud's and the local
// UI's own certificate authorities) and httpserver.
func TestTierBoundaries(t *testing.T) {
	site := []string{"site", "printer", "deviceapi", "commandcenter", "privacy", "outbox", "sitedb", "mqttfeed", "mtconnect", "selfupdate"}
	cloud := []string{"cloud", "updaterepo", "store", "dashboard", "ingest", "stream", "identity"}
	in := func(names []string, ip string) bool {
		for _, n := range names {
			if ip == module+"/internal/"+n || strings.HasPrefix(ip, module+"/internal/"+n+"/") {
				return true
			}
		}
		return false
	}
	pkgs := loadPackages(t)
	for ip := range pkgs {
		for d := range deps(pkgs, ip) {
			switch {
			case in(site, ip) && in(cloud, d):
				t.Errorf("site package %s depends on cloud package %s", ip, d)
			case in(cloud, ip) && in(site, d) && !strings.HasSuffix(d, "/privacy"):
				// The cloud may re-apply the privacy allow-list (defence in depth).
				t.Errorf("cloud package %s depends on site package %s", ip, d)
			}
		}
	}
	// The printer is a device: it knows nothing of the gateway either.
	for d := range deps(pkgs, module+"/internal/printer") {
		if strings.HasSuffix(d, "/commandcenter") || strings.HasSuffix(d, "/uplink") {
			t.Errorf("printer depends on %s", d)
		}
	}
	// The maintenance models learn from what the cloud holds only: the
	// printers' hidden truth is for scoring them (maintscore), never an
	// input, and the cloud never links the scoring.
	for d := range deps(pkgs, module+"/internal/maintenance") {
		if in(site, d) || strings.HasSuffix(d, "/maintscore") {
			t.Errorf("maintenance depends on %s", d)
		}
	}
	for ip := range pkgs {
		if in(cloud, ip) && deps(pkgs, ip)[module+"/internal/maintscore"] {
			t.Errorf("cloud package %s depends on the scoring internal/maintscore", ip)
		}
	}
	// The MQTT feed is the site's (above: the cloud never links it), and
	// only it links the MQTT client.
	for ip, p := range pkgs {
		for _, d := range p.imports {
			if strings.HasPrefix(d, "github.com/eclipse/paho") && ip != module+"/internal/mqttfeed" {
				t.Errorf("%s imports the MQTT client %s; only internal/mqttfeed may", ip, d)
			}
		}
	}
	// The documentation generator reads both tiers' tables to document
	// them; it is run by its test only, and no program links it.
	for ip, p := range pkgs {
		if slices.Contains(p.imports, module+"/internal/docgen") {
			t.Errorf("%s imports internal/docgen; only its test runs it", ip)
		}
	}
	// The fault-injecting proxy is a test tool: only tests link it.
	for ip, p := range pkgs {
		if slices.Contains(p.imports, module+"/internal/chaosproxy") {
			t.Errorf("%s imports internal/chaosproxy; only tests may", ip)
		}
	}
	// So do the quality models: the hidden quality model scores them
	// (learnscore) and is never an input.
	for d := range deps(pkgs, module+"/internal/learn") {
		if in(site, d) || strings.HasSuffix(d, "/learnscore") {
			t.Errorf("learn depends on %s", d)
		}
	}
	for ip := range pkgs {
		if in(cloud, ip) && deps(pkgs, ip)[module+"/internal/learnscore"] {
			t.Errorf("cloud package %s depends on the scoring internal/learnscore", ip)
		}
	}
	// The vocabulary depends on the standard library only.
	for _, d := range pkgs[module+"/internal/fleet"].imports {
		if strings.Contains(d, ".") {
			t.Errorf("internal/fleet imports %s; it must use the standard library only", d)
		}
	}
}

// vocabulary is the bottom layer: the nouns of the fleet and the pure rules
// over them. These packages import nothing of the module outside this set,
// so everything may import them without linking a protocol, a stream or a
// store.
var vocabulary = []string{"fleet", "access", "alert", "fleetquery", "kpi", "retention", "clock", "maintenance", "audit", "learn"}

// Dependencies point down: the vocabulary imports only the vocabulary, the
// cloud stores import only the vocabulary (never the wire protocol, the
// stream consumer or a service), and the wire protocol and the stream
// consumer never import a store.
func TestDependenciesPointDown(t *testing.T) {
	pkgs := loadPackages(t)
	isVocab := func(ip string) bool {
		return slices.Contains(vocabulary, strings.TrimPrefix(ip, module+"/internal/"))
	}
	onlyVocab := func(ip string, extra ...string) {
		p := pkgs[ip]
		if p == nil {
			t.Errorf("package %s not found", ip)
			return
		}
		for _, d := range p.imports {
			if !strings.HasPrefix(d, module+"/") || isVocab(d) || slices.Contains(extra, strings.TrimPrefix(d, module+"/internal/")) {
				continue
			}
			t.Errorf("%s imports %s; it may import only the vocabulary %v %v", ip, d, vocabulary, extra)
		}
	}
	for _, v := range vocabulary {
		onlyVocab(module + "/internal/" + v)
	}
	for ip := range pkgs {
		if isStore(ip) {
			onlyVocab(ip, "sqlitedb")
		}
	}
	for _, ip := range []string{"uplink", "ingest", "stream"} {
		for d := range deps(pkgs, module+"/internal/"+ip) {
			if isStore(d) {
				t.Errorf("internal/%s depends on the store %s", ip, d)
			}
		}
	}
}

// The command line is wiring: it maps flags to the cloud's and the
// Command Center's Options and never opens a store itself (internal/cloud
// and internal/site do), so it links no store package directly.
func TestDependenciesOfTheCommand(t *testing.T) {
	pkgs := loadPackages(t)
	ip := module + "/cmd/fusionfleet"
	if pkgs[ip] == nil {
		t.Fatalf("package %s not found", ip)
	}
	for _, d := range pkgs[ip].imports {
		if isStore(d) {
			t.Errorf("%s imports the store %s; the store is opened inside internal/cloud", ip, d)
		}
		if d == module+"/internal/commandcenter" {
			t.Errorf("%s imports %s; the Command Center is opened inside internal/site", ip, d)
		}
	}
}

// isStore reports whether ip is a cloud store package (not its tests'
// helpers).
func isStore(ip string) bool {
	for _, s := range []string{"store", "sqlite", "postgres"} {
		if ip == module+"/internal/"+s {
			return true
		}
	}
	return false
}
