package docgen

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/privacy"
)

// PrivacyData renders the lists of the data that is collected, field by
// field, and of the data that is not, from the allow-list's description.
func PrivacyData() []byte {
	collected := privacy.Collected()
	described := map[reflect.Type]bool{}
	for _, d := range collected {
		described[d.Type] = true
	}
	var b bytes.Buffer
	header(&b, "Data that is collected, and data that is not", "the privacy allow-list (internal/privacy)")
	b.WriteString("Every record that leaves a site is built by the Command Center's allow-list, field by field, " +
		"from what the printers serve. A field not listed under *Collected* does not leave the site: a field " +
		"added to the printers' data leaves nothing until it is added to the allow-list on purpose, and a test " +
		"fails until it is described here. The names are those of the records as uploaded (JSON).\n\n")

	b.WriteString("## Not collected\n\n")
	b.WriteString("The printers serve these to the Command Center, which shows them on the site (local UI and " +
		"local API); they never leave the site:\n\n")
	b.WriteString("| of a | field | what it is |\n|---|---|---|\n")
	for _, d := range privacy.NotCollected() {
		of := strings.ToLower(strings.TrimSuffix(d.Type.Name(), "Private"))
		for _, f := range d.Fields {
			fmt.Fprintf(&b, "| %s | `%s` | %s |\n", of, jsonName(d.Type, f.Field), cell(f.Doc))
		}
	}
	b.WriteString("\nNor does anything else leave that could reproduce a part: no job files, no geometry, no layer " +
		"images or outlines (a layer is an area and a duration). Should a printer write one of the names above into a " +
		"text that is collected (an activity, a warning, an event, a log line), it is replaced there by `[private]`; " +
		"file paths in collected text are replaced by `[path]`. Data unrelated to printing is not read at all.\n\n")

	b.WriteString("## Collected\n\n")
	for _, d := range collected {
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", d.Type.Name(), d.Doc)
		b.WriteString("| field | what it is |\n|---|---|\n")
		for _, f := range d.Fields {
			doc := f.Doc
			sf, _ := d.Type.FieldByName(f.Field)
			if t := elem(sf.Type); described[t] && t != d.Type {
				doc += fmt.Sprintf(" See [%s](#%s).", t.Name(), strings.ToLower(t.Name()))
			}
			fmt.Fprintf(&b, "| `%s` | %s |\n", jsonName(d.Type, f.Field), cell(doc))
		}
		b.WriteString("\n")
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// jsonName returns the JSON name of field of struct type t.
func jsonName(t reflect.Type, field string) string {
	sf, ok := t.FieldByName(field)
	if !ok {
		return field
	}
	name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
	if name == "" || name == "-" {
		return field
	}
	return name
}

// elem returns the type a field holds, through pointers, slices and maps.
func elem(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() {
		return nil
	}
	return t
}
