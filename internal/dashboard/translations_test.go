package dashboard

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template/parse"

	"github.com/fusionfleet/fusionfleet/internal/i18n/i18ntest"
)

// templateMessages returns, by template file, every message literal a
// template translates: the string after `$.T` or `.T`, wherever it stands
// (actions, if/range/with pipelines, parenthesised arguments).
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
			if len(c.Args) > 1 && isT(c.Args[0]) {
				if s, ok := c.Args[1].(*parse.StringNode); ok {
					found(s.Text)
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

// isT reports whether n is the page's translation method: $.T or .T.
func isT(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.FieldNode:
		return len(n.Ident) == 1 && n.Ident[0] == "T"
	case *parse.VariableNode:
		return len(n.Ident) == 2 && n.Ident[0] == "$" && n.Ident[1] == "T"
	}
	return false
}

// goMessages returns, by Go file of this package, the English messages
// its code shows people: string literals (or constants) passed to T,
// badForm, writeError and plural, given as Title or Message fields, or
// written in formError and nameKind values. Messages built otherwise
// escape this check; write them in one of these ways.
func goMessages(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*ast.File{}
	consts := map[string]string{}
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = f
		ast.Inspect(f, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok {
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if s, ok := i18ntest.StringLit(vs.Values[i]); ok {
							consts[name.Name] = s
						}
					}
				}
			}
			return true
		})
	}
	value := func(e ast.Expr) (string, bool) {
		if s, ok := i18ntest.StringLit(e); ok {
			return s, true
		}
		if id, ok := e.(*ast.Ident); ok {
			s, ok := consts[id.Name]
			return s, ok
		}
		return "", false
	}
	out := map[string][]string{}
	for p, f := range files {
		add := func(e ast.Expr) {
			if s, ok := value(e); ok && s != "" {
				out[p] = append(out[p], s)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				switch name := i18ntest.FuncName(n.Fun); name {
				case "T":
					if len(n.Args) > 0 {
						add(n.Args[0])
					}
				case "badForm", "writeError", "plural":
					for _, a := range n.Args {
						add(a)
					}
				}
			case *ast.KeyValueExpr:
				if k, ok := n.Key.(*ast.Ident); ok && (k.Name == "Title" || k.Name == "Message") {
					add(n.Value)
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && (id.Name == "formError" || id.Name == "nameKind") {
					for _, e := range n.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok {
							e = kv.Value
						}
						if s, ok := i18ntest.StringLit(e); ok {
							out[p] = append(out[p], s)
						}
					}
				}
			}
			return true
		})
	}
	return out
}

// Every message the dashboard's templates translate has a German entry.
func TestTemplatesTranslated(t *testing.T) {
	i18ntest.RequireGerman(t, templateMessages(t))
}

// Every message the dashboard's Go code shows people has a German entry.
func TestGoMessagesTranslated(t *testing.T) {
	i18ntest.RequireGerman(t, goMessages(t))
}

var verb = regexp.MustCompile(`%[-+# 0]*[0-9]*(?:\.[0-9]+)?[a-zA-Z%]`)

// Each German entry takes the same arguments as its English key, in the
// same order; entries no dashboard template or Go source uses are logged
// (they may belong to a page still being written).
func TestGermanCatalog(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "i18n", "de", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no German catalogs: %v", err)
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
	for code := 100; code < 600; code++ {
		used[http.StatusText(code)] = true // error pages' titles
	}
	var sources strings.Builder
	for _, glob := range []string{"../*/*.go", "templates/*.html"} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			sources.Write(b)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cat map[string]string
		if err := json.Unmarshal(b, &cat); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for en, de := range cat {
			if got, want := verb.FindAllString(de, -1), verb.FindAllString(en, -1); !slices.Equal(got, want) {
				t.Errorf("%s: %q has verbs %q, its German %q has %q", f, en, want, de, got)
			}
			if strings.TrimSpace(de) == "" {
				t.Errorf("%s: %q has an empty German entry", f, en)
			}
			quoted := strconv.Quote(en)
			if !used[en] && !strings.Contains(sources.String(), quoted[1:len(quoted)-1]) {
				t.Logf("%s: %q is used nowhere in the dashboard templates or Go sources", f, en)
			}
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
		{"templates/layout.html", "Skip to main content"},
		{"templates/layout.html", "Log out %s"},
		{"templates/printers.html", "Showing %s of %s printers"},
		{"templates/users.html", "All sites"},  // in an if's else branch
		{"templates/tokens.html", "Revoke %s"}, // in range and if
		{"templates/account.html", `Any IANA time zone name, such as America/Toronto. Used when the menu says "Another zone".`},
	} {
		has(t, tm, tt.file, tt.msg)
	}
	gm := goMessages(t)
	for _, tt := range []struct{ file, msg string }{
		{"printers.go", "Powered on, printing"},                                      // T
		{"printers.go", "%d pending jobs"},                                           // plural
		{"auth.go", "Only administrators may do this."},                              // writeError
		{"auth.go", "Wrong user name or password."},                                  // Message: a constant
		{"users.go", "Please enter a site name."},                                    // nameKind
		{"users.go", "You cannot give more rights or sites than you have yourself."}, // formError
		{"account.go", "Please pick a language from the list."},                      // badForm
		{"sites.go", "Sites"},                                                        // Title
	} {
		has(t, gm, tt.file, tt.msg)
	}
}

// Success and information say so in the notice style (role status), and
// the message style (role alert) is for what went wrong: a saved setting
// shown like an error reads as a failure.
func TestNoticesAreNotStyledAsErrors(t *testing.T) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	p := regexp.MustCompile(`<p class="([^"]*)" role="(status|alert)"`)
	for _, f := range files {
		b, err := fs.ReadFile(templateFS, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.FindAllStringSubmatch(string(b), -1) {
			if (m[2] == "status") != (m[1] == "notice") {
				t.Errorf("%s: %s", f, m[0])
			}
		}
	}
}
