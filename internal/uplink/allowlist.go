package uplink

import (
	"encoding"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// notAllowed names the first field of a batch that the wire schema does not
// name: the uplink's allow-list re-applied in the cloud (R-PRIV-2), so that
// the refusal says which record carried which field. It runs only after the
// strict decoder has refused a field, and returns "" when it cannot place
// it.
func notAllowed(raw []byte) string {
	var top map[string]any
	if json.Unmarshal(raw, &top) != nil {
		return ""
	}
	recs, _ := lookup(top, "records").([]any)
	for i, r := range recs {
		if p := unknownField(r, recordType, ""); p != "" {
			return fmt.Sprintf("record %d: field %q is not allowed on the uplink (R-PRIV-2)", i, p)
		}
	}
	if p := unknownField(map[string]any(top), batchType, ""); p != "" {
		return fmt.Sprintf("batch: field %q is not allowed on the uplink (R-PRIV-2)", p)
	}
	return ""
}

var (
	batchType       = reflect.TypeFor[Batch]()
	recordType      = batchType.Field(0).Type.Elem()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// lookup finds key in m as encoding/json matches field names: exactly,
// else case-insensitively.
func lookup(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// unknownField returns the dotted path of the first key in v (decoded
// JSON) that type t has no field for, in sorted key order, or "".
func unknownField(v any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textType) {
		return "" // decodes itself: a leaf of the schema
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		fields := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			ft, ok := fieldFor(fields, k)
			p := join(path, k)
			if !ok {
				return p
			}
			if q := unknownField(m[k], ft, p); q != "" {
				return q
			}
		}
	case reflect.Slice, reflect.Array:
		s, _ := v.([]any)
		for i, e := range s {
			if q := unknownField(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); q != "" {
				return q
			}
		}
	case reflect.Map:
		m, _ := v.(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if q := unknownField(m[k], t.Elem(), join(path, k)); q != "" {
				return q
			}
		}
	}
	return ""
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// jsonFields maps the JSON names of t's exported fields to their types,
// following encoding/json: a tag names the field, "-" hides it.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct {
			continue // promoted fields are visited on their own
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func fieldFor(fields map[string]reflect.Type, key string) (reflect.Type, bool) {
	if t, ok := fields[key]; ok {
		return t, true
	}
	for name, t := range fields {
		if strings.EqualFold(name, key) {
			return t, true
		}
	}
	return nil, false
}
