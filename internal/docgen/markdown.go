package docgen

import (
	"bytes"
	"fmt"
	"strings"
)

// regenerate is the command that rewrites the generated pages.
const regenerate = "go test ./internal/docgen -update"

// header starts a generated page: its title and a note that says where it
// comes from and how to regenerate it.
func header(b *bytes.Buffer, title, source string) {
	fmt.Fprintf(b, "# %s\n\n", title)
	fmt.Fprintf(b, "<!-- Generated from %s by `%s`. Do not edit: change the source and regenerate. -->\n\n", source, regenerate)
}

// oneLine joins the lines of s.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// cell makes s fit a table cell: one line, pipes escaped.
func cell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}
