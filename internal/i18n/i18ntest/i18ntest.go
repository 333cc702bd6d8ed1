// Package i18ntest holds what the translation tests of the dashboard and
// of the local UI share: reading string literals out of Go source, and
// requiring a German entry for every message found.
package i18ntest

import (
	"go/ast"
	"go/token"
	"strconv"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/i18n"
)

// FuncName is the name of a called function or method: f for f(…) and
// x.f(…), "" otherwise.
func FuncName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

// StringLit is the value of a string literal expression.
func StringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// RequireGerman fails the test when msgs (file → messages) is empty — an
// extractor that finds nothing proves nothing — or when a message has no
// German entry.
func RequireGerman(t *testing.T, msgs map[string][]string) {
	t.Helper()
	if len(msgs) == 0 {
		t.Fatal("no messages found")
	}
	for f, ms := range msgs {
		for _, m := range ms {
			if !i18n.German.Has(m) {
				t.Errorf("%s: no German for %q", f, m)
			}
		}
	}
}
