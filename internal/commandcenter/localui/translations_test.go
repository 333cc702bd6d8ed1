package localui

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template/parse"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/fusionfleet/fusionfleet/internal/i18n/i18ntest"
)

// templateMessages returns, by template file, every message literal a
// template translates: the strings after `.T`, `$.T`, `.Plural` or
// `$.Plural`, wherever they stand (actions, if/range/with pipelines,
// parenthesised arguments).
func templateMessages(t *testing.T) map[string][]string {
	t.Helper()
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, f := range files {
		b, err := fs.ReadFile(templateFS, f)
		if err != nil {
			t.Fatal(err)
		}
		tr := parse.New(f)
		tr.Mode = parse.SkipFuncCheck
		trees := map[string]*parse.Tree{}
		if _, err := tr.Parse(string(b), "{{", "}}", trees); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tree := range trees {
			walkTemplate(tree.Root, func(msg string) { out[f] = append(out[f], msg) })
		}
	}
	return out
}

func walkTemplate(n parse.Node, found func(string)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkTemplate(c, found)
		}
	case *parse.ActionNode:
		walkTemplate(n.Pipe, found)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, found)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, found)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, found)
	case *parse.TemplateNode:
		walkTemplate(n.Pipe, found)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			if len(c.Args) > 1 && isTranslator(c.Args[0]) {
				for _, a := range c.Args[1:] {
					if s, ok := a.(*parse.StringNode); ok {
						found(s.Text)
					}
				}
			}
			for _, a := range c.Args {
				walkTemplate(a, found)
			}
		}
	}
}

func walkBranch(b *parse.BranchNode, found func(string)) {
	walkTemplate(b.Pipe, found)
	walkTemplate(b.List, found)
	walkTemplate(b.ElseList, found)
}

// isTranslator reports whether n is one of the page's translating
// methods, T or Plural, as .X or $.X.
func isTranslator(n parse.Node) bool {
	var name string
	switch n := n.(type) {
	case *parse.FieldNode:
		if len(n.Ident) != 1 {
			return false
		}
		name = n.Ident[0]
	case *parse.VariableNode:
		if len(n.Ident) != 2 || n.Ident[0] != "$" {
			return false
		}
		name = n.Ident[1]
	default:
		return false
	}
	return name == "T" || name == "Plural"
}

// goMessages returns, by Go file of this package, the English messages
// its pages show people: string literals passed to T (a language's or a
// page's) and the titles passed to newLayout. Messages built otherwise
// escape this check; write them in one of these ways.
func goMessages(t *testing.T) map[string][]string {
	t.Helper()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		add := func(e ast.Expr) {
			if s, ok := i18ntest.StringLit(e); ok && s != "" {
				out[p] = append(out[p], s)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			switch i18ntest.FuncName(call.Fun) {
			case "T":
				if len(call.Args) > 0 {
					add(call.Args[0])
				}
			case "newLayout":
				if len(call.Args) > 1 {
					add(call.Args[1])
				}
			}
			return true
		})
	}
	return out
}

// Every message the local UI's templates translate has a German entry.
func TestTemplatesTranslated(t *testing.T) {
	i18ntest.RequireGerman(t, templateMessages(t))
}

// Every message the local UI's Go code writes on its pages has a German
// entry.
func TestGoMessagesTranslated(t *testing.T) {
	i18ntest.RequireGerman(t, goMessages(t))
}

// The words the pages show for the values of the printers, the outbox,
// the upload log and the self-test, which reach T as data, not literals:
// each has a German entry.
func TestValueWordsTranslated(t *testing.T) {
	var words []string
	words = append(words, "queued", "printing", "cooling", "completed", "failed", "cancelled", // job statuses
		"unknown", "info", "warning", "error", "critical", // severities
		"ok", "low", "empty", "non-original", "expired", "degraded", "replace", "ready", // consumables' statuses
		"data", "mirror", // transfer kinds
		"acknowledged", "quarantined", "split", "fetched", "absent", // upload outcomes
		"firmware", "parameters", // release kinds
		"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
	for _, w := range words {
		if !i18n.German.Has(w) {
			t.Errorf("no German for %q", w)
		}
	}
}

var verb = regexp.MustCompile(`%[-+# 0]*[0-9]*(?:\.[0-9]+)?[a-zA-Z%]`)

// Each entry of the local UI's catalog takes the same arguments as its
// English key, in the same order, and is used by the local UI.
func TestGermanCatalog(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "i18n", "de", "localui.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cat map[string]string
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, ms := range templateMessages(t) {
		for _, m := range ms {
			used[m] = true
		}
	}
	for _, ms := range goMessages(t) {
		for _, m := range ms {
			used[m] = true
		}
	}
	for en, de := range cat {
		if got, want := verb.FindAllString(de, -1), verb.FindAllString(en, -1); !slices.Equal(got, want) {
			t.Errorf("%q has verbs %q, its German %q has %q", en, want, de, got)
		}
		if strings.TrimSpace(de) == "" {
			t.Errorf("%q has an empty German entry", en)
		}
		if !used[en] {
			t.Logf("%q is used nowhere in the local UI's templates or Go sources", en)
		}
	}
}

// The extractors find messages however they are written, so that the
// checks above cannot pass by finding nothing.
func TestMessageExtractors(t *testing.T) {
	has := func(t *testing.T, got map[string][]string, file, msg string) {
		t.Helper()
		if !slices.Contains(got[file], msg) {
			t.Errorf("%s: %q not found among %q", file, msg, got[file])
		}
	}
	tm := templateMessages(t)
	for _, tt := range []struct{ file, msg string }{
		{"templates/layout.html", "Skip to content"},
		{"templates/layout.html", "Updated %s"},                            // with a parenthesised argument
		{"templates/printers.html", "%d records waiting for the cloud"},    // Plural's second form
		{"templates/printers.html", "Pinned certificate"},                  // $.T in range
		{"templates/updates.html", "Approval withdrawn."},                  // in with and else
		{"templates/consumables.html", "%d reading in the last %s"},        // $.Plural in range
		{"templates/uploads.html", "Dropped when the disk budget ran out"}, // in if
		{"templates/upload.html", "%s received, about %s on the wire"},     // in with
		{"templates/selftest.html", "Checked %s; reload the page to check again."},
	} {
		has(t, tm, tt.file, tt.msg)
	}
	gm := goMessages(t)
	for _, tt := range []struct{ file, msg string }{
		{"words.go", "waiting for first contact"}, // lang.T
		{"pages.go", "Upload %d"},                 // l.T
		{"pages.go", "Connectivity self-test"},    // newLayout
		{"updates.go", "Updates"},                 // newLayout
		{"pages.go", "Agent supply level (%)"},    // plot title
	} {
		has(t, gm, tt.file, tt.msg)
	}
}

// A page is in the language the browser asks for: German for German,
// English otherwise, said by <html lang> and its words, including the
// words made in Go (titles, states, events, plots' axes).
func TestPagesInBrowsersLanguage(t *testing.T) {
	st := handlerStore(t)
	clk := clock.NewManual(handlerNow)
	uploadAll(t, st, clk)
	h := NewHandler(SourcesOf(st), HandlerOptions{Clock: clk})
	const german = "de-DE,de;q=0.9,en;q=0.8"
	for _, tt := range []struct {
		accept, path, lang string
		want               []string
	}{
		{"", "/", "en", []string{"<h1>Printers</h1>", "Skip to content", "What was sent"}},
		{"fr-FR,fr;q=0.9", "/", "en", []string{"<h1>Printers</h1>"}},
		{german, "/", "de", []string{"<h1>Drucker</h1>", "Zum Inhalt springen", "Was gesendet wurde", "Erfassung", "Aktualisiert "}},
		{german, "/jobs", "de", []string{"<title>Druckaufträge · Command Center</title>", "Auftrags-, Teile-", "<td>Drucken</td>"}},
		{german, "/alerts", "de", []string{"<h1>Alarme</h1>", "Schweregrad", `class="sev-error">Fehler`}},
		{german, "/consumables", "de", []string{"Agent-Vorrat (%), letzte 7 Tage", "3 Messungen in den letzten 7 Tage", "Reinigungsrolle",
			"Von diesem Drucker wurden in den letzten 7 Tage"}},
		{german, "/uploads", "de", []string{"Warten auf die Cloud", "bestätigt", "Übertragung 1 öffnen", "0 Datensätze"}},
		{german, "/uploads/1", "de", []string{"<h1>Übertragung 1</h1>", "Folgenummern 1–3", "Zurück zu allen Übertragungen"}},
		{german, "/selftest", "de", []string{"Der Selbsttest ist in diesem Command Center nicht eingerichtet."}},
		{german, "/updates", "de", []string{"Updates sind in diesem Command Center nicht eingerichtet"}},
	} {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, tt.path, nil)
		req.Host = "localhost"
		req.Header.Set("Accept-Language", tt.accept)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != http.StatusOK {
			t.Errorf("%s in %q: %d %s", tt.path, tt.accept, rec.Code, body)
			continue
		}
		if want := `<html lang="` + tt.lang + `">`; !strings.Contains(body, want) {
			t.Errorf("%s in %q: no %s", tt.path, tt.accept, want)
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s in %q: page lacks %q", tt.path, tt.accept, w)
			}
		}
	}
}

// Generated words follow the language: durations, event descriptions
// and printer activities (from the dashboard's catalog), plot axes.
func TestGeneratedWordsInGerman(t *testing.T) {
	de := i18n.German
	for _, tt := range []struct{ got, want string }{
		{durationWords(de, 20*time.Second), "unter einer Minute"},
		{durationWords(de, 65*time.Minute), "1 h 05 min"},
		{durationWords(i18n.English, 20*time.Second), "under a minute"},
		{stamp(de, time.Time{}), "nie"},
		{de.Activity("printing layer 3 of 40"), "druckt Schicht 3 von 40"},
		{de.Activity("idle"), "bereit"},
		{de.Activity("error: agent supply low"), "Fehler: Agent-Vorrat niedrig"},
		{de.Activity("something the printer made up"), "something the printer made up"},
		{stateWords(de, fleet.StatePrinting), "eingeschaltet, druckt"},
		{tickTime(de, time.Date(2026, 3, 2, 15, 4, 0, 0, time.UTC)), "2. März 15:04"},
		{tickTime(i18n.English, time.Date(2026, 3, 2, 15, 4, 0, 0, time.UTC)), "Mar 2 15:04"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
