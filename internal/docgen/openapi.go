package docgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// object is a JSON object of an OpenAPI document.
type object = map[string]any

// methods are the operations of a path, in the order they are listed.
var methods = []string{"get", "post", "put", "patch", "delete"}

// APIReference renders an OpenAPI 3 document as a Markdown reference: the
// API's description and authentication, every operation (by path, then
// method) with its parameters, request body and answers, and every schema
// with its fields. title heads the page; source names the document for
// the page's header.
func APIReference(title, source string, doc []byte) ([]byte, error) {
	var d object
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("api reference %s: %w", source, err)
	}
	paths, _ := d["paths"].(object)
	if len(paths) == 0 {
		return nil, fmt.Errorf("api reference %s: no paths", source)
	}
	comps, _ := d["components"].(object)
	r := &refRenderer{comps: comps}
	var b bytes.Buffer
	header(&b, title, source)
	info, _ := d["info"].(object)
	if s := str(info, "description"); s != "" {
		fmt.Fprintf(&b, "%s\n\n", s)
	}
	fmt.Fprintf(&b, "OpenAPI %s, API version %s.\n\n", str(d, "openapi"), str(info, "version"))

	if schemes, _ := comps["securitySchemes"].(object); len(schemes) > 0 {
		b.WriteString("## Authentication\n\n")
		for _, name := range sortedKeys(schemes) {
			s, _ := schemes[name].(object)
			kind := str(s, "type")
			if sc := str(s, "scheme"); sc != "" {
				kind += " " + sc
			}
			fmt.Fprintf(&b, "- `%s` (%s): %s\n", name, kind, oneLine(str(s, "description")))
		}
		b.WriteString("\nEvery operation needs it unless it says *no authentication*.\n\n")
	}

	b.WriteString("## Operations\n\n")
	for _, p := range sortedKeys(paths) {
		item, _ := paths[p].(object)
		for _, m := range methods {
			op, ok := item[m].(object)
			if !ok {
				continue
			}
			r.operation(&b, strings.ToUpper(m), p, op)
		}
	}

	if answers := objectAt(comps, "responses"); len(answers) > 0 {
		b.WriteString("## Shared answers\n\n")
		for _, name := range sortedKeys(answers) {
			a, _ := answers[name].(object)
			fmt.Fprintf(&b, "### Answer: %s\n\n%s\n\n", name, str(a, "description"))
			content := objectAt(a, "content")
			for _, ct := range sortedKeys(content) {
				c, _ := content[ct].(object)
				s, _ := c["schema"].(object)
				fmt.Fprintf(&b, "Body (%s): %s.\n\n", ct, r.typeOf(s))
			}
		}
	}

	if schemas, _ := comps["schemas"].(object); len(schemas) > 0 {
		b.WriteString("## Schemas\n\n")
		for _, name := range sortedKeys(schemas) {
			s, _ := schemas[name].(object)
			fmt.Fprintf(&b, "### %s\n\n", name)
			r.schemaBody(&b, s)
		}
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// refRenderer resolves the document's references while rendering.
type refRenderer struct {
	comps object
}

func (r *refRenderer) operation(b *bytes.Buffer, method, path string, op object) {
	fmt.Fprintf(b, "### %s %s\n\n", method, path)
	if s := str(op, "summary"); s != "" {
		fmt.Fprintf(b, "%s\n\n", oneLine(s))
	}
	if s := str(op, "description"); s != "" {
		fmt.Fprintf(b, "%s\n\n", s)
	}
	if sec, ok := op["security"].([]any); ok && len(sec) == 0 {
		b.WriteString("*No authentication.*\n\n")
	}
	if scope := str(op, "x-grant-scope"); scope != "" {
		fmt.Fprintf(b, "*Open to a service provider under a grant with the `%s` scope.*\n\n", scope)
	}
	if params, _ := op["parameters"].([]any); len(params) > 0 {
		b.WriteString("| parameter | in | type | required | description |\n|---|---|---|---|---|\n")
		for _, p := range params {
			po := r.resolve(p)
			req := ""
			if v, _ := po["required"].(bool); v {
				req = "yes"
			}
			ps, _ := po["schema"].(object)
			fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", str(po, "name"), str(po, "in"), r.typeOf(ps), req, cell(str(po, "description")))
		}
		b.WriteString("\n")
	}
	if rb, ok := op["requestBody"].(object); ok {
		rb = r.resolve(rb)
		for _, ct := range sortedKeys(objectAt(rb, "content")) {
			c, _ := objectAt(rb, "content")[ct].(object)
			s, _ := c["schema"].(object)
			fmt.Fprintf(b, "Request body (%s): %s", ct, r.typeOf(s))
			if d := str(rb, "description"); d != "" {
				fmt.Fprintf(b, ". %s", oneLine(d))
			}
			b.WriteString("\n\n")
			if _, isRef := s["$ref"]; !isRef && s != nil && objectAt(s, "properties") != nil {
				r.fields(b, s)
			}
		}
	}
	if res, _ := op["responses"].(object); len(res) > 0 {
		b.WriteString("| answer | description | body |\n|---|---|---|\n")
		for _, code := range sortedKeys(res) {
			if name, ok := r.sharedAnswer(res[code]); ok {
				fmt.Fprintf(b, "| %s | see [%s](#answer-%s) |  |\n", code, name, strings.ToLower(name))
				continue
			}
			ro := r.resolve(res[code])
			var bodies []string
			content := objectAt(ro, "content")
			for _, ct := range sortedKeys(content) {
				c, _ := content[ct].(object)
				s, _ := c["schema"].(object)
				bodies = append(bodies, fmt.Sprintf("%s (%s)", r.typeOf(s), ct))
			}
			fmt.Fprintf(b, "| %s | %s | %s |\n", code, cell(str(ro, "description")), strings.Join(bodies, "; "))
		}
		b.WriteString("\n")
	}
}

// schemaBody renders a named schema: its description, its type when it is
// not an object, and its fields.
func (r *refRenderer) schemaBody(b *bytes.Buffer, s object) {
	if d := str(s, "description"); d != "" {
		fmt.Fprintf(b, "%s\n\n", d)
	}
	if objectAt(s, "properties") == nil {
		fmt.Fprintf(b, "Type: %s.\n\n", r.typeOf(s))
		return
	}
	r.fields(b, s)
}

// fields renders the properties of an object schema as a table.
func (r *refRenderer) fields(b *bytes.Buffer, s object) {
	props := objectAt(s, "properties")
	req := map[string]bool{}
	if l, ok := s["required"].([]any); ok {
		for _, n := range l {
			if n, ok := n.(string); ok {
				req[n] = true
			}
		}
	}
	b.WriteString("| field | type | required | description |\n|---|---|---|---|\n")
	for _, name := range sortedKeys(props) {
		p, _ := props[name].(object)
		d := str(p, "description")
		if priv, _ := p["x-private"].(bool); priv && !strings.Contains(d, "PRIVATE") {
			d = strings.TrimSpace("**Private: never leaves the site.** " + d)
		}
		yes := ""
		if req[name] {
			yes = "yes"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", name, r.typeOf(p), yes, cell(d))
	}
	b.WriteString("\n")
}

// typeOf names a schema's type in words, linking named schemas.
func (r *refRenderer) typeOf(s object) string {
	if s == nil {
		return "any"
	}
	if ref := str(s, "$ref"); ref != "" {
		name := ref[strings.LastIndex(ref, "/")+1:]
		return fmt.Sprintf("[%s](#%s)", name, strings.ToLower(name))
	}
	for _, k := range []string{"oneOf", "anyOf", "allOf"} {
		if l, ok := s[k].([]any); ok {
			var parts []string
			for _, e := range l {
				e, _ := e.(object)
				parts = append(parts, r.typeOf(e))
			}
			sep := " or "
			if k == "allOf" {
				sep = " and "
			}
			return strings.Join(parts, sep)
		}
	}
	var t string
	switch v := s["type"].(type) {
	case string:
		t = v
	case []any:
		var ts []string
		for _, e := range v {
			if e, ok := e.(string); ok {
				ts = append(ts, e)
			}
		}
		t = strings.Join(ts, " or ")
	}
	switch t {
	case "array":
		items, _ := s["items"].(object)
		t = "array of " + r.typeOf(items)
	case "object":
		if ap, ok := s["additionalProperties"].(object); ok {
			t = "map of " + r.typeOf(ap)
		}
	case "":
		t = "any"
	}
	if f := str(s, "format"); f != "" {
		t += " (" + f + ")"
	}
	if e, ok := s["enum"].([]any); ok {
		var vs []string
		for _, v := range e {
			vs = append(vs, fmt.Sprintf("`%v`", v))
		}
		t += ": " + strings.Join(vs, ", ")
	}
	if c, ok := s["const"]; ok {
		t += fmt.Sprintf(": `%v`", c)
	}
	return t
}

// sharedAnswer reports whether v refers to an answer of the document's
// components, and its name.
func (r *refRenderer) sharedAnswer(v any) (string, bool) {
	o, _ := v.(object)
	name, ok := strings.CutPrefix(str(o, "$ref"), "#/components/responses/")
	if !ok || objectAt(objectAt(r.comps, "responses"), name) == nil {
		return "", false
	}
	return name, true
}

// resolve follows a reference to the document's components.
func (r *refRenderer) resolve(v any) object {
	o, _ := v.(object)
	ref := str(o, "$ref")
	if !strings.HasPrefix(ref, "#/components/") {
		return o
	}
	kind, name, _ := strings.Cut(strings.TrimPrefix(ref, "#/components/"), "/")
	target, _ := objectAt(r.comps, kind)[name].(object)
	if target == nil {
		return o
	}
	return target
}

// str returns the string at key of o, or "".
func str(o object, key string) string {
	s, _ := o[key].(string)
	return s
}

// objectAt returns the object at key of o, or nil.
func objectAt(o object, key string) object {
	v, _ := o[key].(object)
	return v
}

// sortedKeys returns the keys of o in order.
func sortedKeys(o object) []string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
