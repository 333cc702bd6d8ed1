package commandcenter

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportBoundaries keeps the gateway independent of the cloud: of the
// project's packages it may use only the shared vocabulary and contracts.
func TestImportBoundaries(t *testing.T) {
	const module = "github.com/fusionfleet/fusionfleet/"
	allowed := map[string]bool{
		module + "internal/fleet":     true,
		module + "internal/clock":     true,
		module + "internal/backoff":   true,
		module + "internal/deviceapi": true, // wire types only; the client is injected as a Dialer
		module + "internal/uplink":    true, // wire types only; the client is injected as a Cloud
		module + "internal/privacy":   true,
		module + "internal/sqlitedb":  true, // how SQLite files are opened and migrated
		module + "internal/sitedb":    true, // the site database's schema
		module + "internal/outbox":    true, // the durable queue to the cloud
		module + "internal/update":    true, // the release types of the update mirror it decides about
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, module) && !allowed[path] {
				t.Errorf("%s imports %s; the Command Center may not depend on it", name, path)
			}
		}
	}
}
