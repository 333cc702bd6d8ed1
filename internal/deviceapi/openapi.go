package deviceapi

import (
	"encoding"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The OpenAPI 3.1 document of the device API is built from the route
// table and, by reflection, from the wire types themselves, so it cannot
// fall behind the code: a field added to a wire type shows in the document
// with its JSON name and type. Fields of JobPrivate and PartPrivate are
// marked "x-private": true (R-PRIV-2).

// privateTypes are the wire types whose every field must stay on the site.
var privateTypes = map[reflect.Type]string{
	reflect.TypeFor[JobPrivate]():  "PRIVATE: the job's name, submitting user and computer. Shown on the site, never sent to the cloud (R-PRIV-2).",
	reflect.TypeFor[PartPrivate](): "PRIVATE: the part's name and geometry reference. Shown on the site, never sent to the cloud (R-PRIV-1, R-PRIV-2).",
}

// schemaNames names the generic page types, which reflection cannot.
var schemaNames = map[reflect.Type]string{
	reflect.TypeFor[EventPage](): "EventPage",
	reflect.TypeFor[JobPage]():   "JobPage",
	reflect.TypeFor[LayerPage](): "LayerPage",
	reflect.TypeFor[LogPage]():   "LogPage",
	reflect.TypeFor[errorBody](): "Error",
}

// typeDocs describe the schemas.
var typeDocs = map[string]string{
	"Identity":         "Printer identification (R-DATA-1). instance changes whenever the printer restarts its feeds: cursors of another instance are meaningless.",
	"Status":           "Heartbeat (R-DATA-2). job is absent when the printer is idle.",
	"CurrentJob":       "The job the printer is working on. Its private names are in private.",
	"JobPrivate":       privateTypes[reflect.TypeFor[JobPrivate]()],
	"PartPrivate":      privateTypes[reflect.TypeFor[PartPrivate]()],
	"Job":              "One change of a job (R-DATA-4) with its parts (R-DATA-5). The newest entry of a job id is the job's current state. id is random, never derived from names.",
	"Part":             "A part of a job (R-DATA-5). id is random.",
	"Layer":            "One printed layer of a job (R-DATA-6).",
	"LogLine":          "One line of a device log (R-DATA-12). No log carries customer part information.",
	"Counters":         "Lifetime usage counters (R-DATA-7).",
	"Consumables":      "Everything that wears or runs out (R-DATA-8..11, lamps).",
	"Event":            "An event or alert (R-DATA-3).",
	"Error":            "Every error answer.",
	"EventPage":        pageDoc,
	"JobPage":          pageDoc,
	"LayerPage":        pageDoc,
	"LogPage":          pageDoc,
	"Box":              "Axis-aligned box in the build volume, millimetres.",
	"Vec3":             "Point or size in millimetres.",
	"JobWarning":       "A warning raised during a job.",
	"SubJob":           "A phase of a job: preparation, printing, cooling, unpacking.",
	"CleaningRoll":     "Printhead cleaning roll (R-DATA-8).",
	"AgentSupply":      "Agent system state for one agent type (R-DATA-9).",
	"Printhead":        "One printhead (R-DATA-10). uuid is random.",
	"BuildUnits":       "Build units (R-DATA-11); installed is absent when none is inserted.",
	"BuildUnit":        "The installed build unit (R-DATA-11).",
	"BuildUnitPrinter": "A printer a build unit was used with (R-DATA-11).",
	"Lamp":             "A fusing or warming lamp.",
}

const pageDoc = "One read of a cursor feed: the items with seq > after, oldest first, at most limit. " +
	"next is the cursor for the next read (the last seq returned, or after when none). " +
	"first is the oldest seq the printer still holds: a reader whose after+1 < first has missed items. " +
	"instance changes when the printer restarts its feeds."

// stringEnums lists the values of the string-typed vocabulary.
var stringEnums = map[reflect.Type][]string{
	reflect.TypeFor[fleet.JobStatus](): {string(fleet.JobQueued), string(fleet.JobPrinting), string(fleet.JobCooling),
		string(fleet.JobCompleted), string(fleet.JobFailed), string(fleet.JobCancelled)},
	reflect.TypeFor[fleet.PartOutcome](): {string(fleet.PartPending), string(fleet.PartPass), string(fleet.PartDimensional),
		string(fleet.PartPorosity), string(fleet.PartWarp), string(fleet.PartNotPrinted)},
	reflect.TypeFor[fleet.LogKind](): logNames(),
}

func logNames() []string {
	var s []string
	for _, l := range fleet.LogKinds() {
		s = append(s, string(l))
	}
	return s
}

// errorStatuses are the error answers every route may give.
var errorStatuses = []int{
	http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge,
	http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge, http.StatusInternalServerError,
}

// securityScheme names the device API's one security scheme.
const securityScheme = "pairedCollector"

// openAPIDocument returns the OpenAPI 3.1 document describing table.
func openAPIDocument(table []route) json.RawMessage {
	sb := &schemaBuilder{schemas: map[string]any{}, names: map[reflect.Type]string{}}
	errRef := sb.schema(reflect.TypeFor[errorBody]())
	paths := map[string]any{}
	for _, rt := range table {
		op := map[string]any{
			"operationId": operationID(rt.path),
			"summary":     rt.summary,
		}
		var params []any
		if strings.Contains(rt.path, "{log}") {
			params = append(params, map[string]any{
				"name": "log", "in": "path", "required": true,
				"description": "The device log to read; an unknown one is answered 404 naming the known logs.",
				"schema":      map[string]any{"type": "string", "enum": logNames()},
			})
		}
		if rt.feed != nil {
			params = append(params,
				map[string]any{
					"name": "after", "in": "query", "required": false,
					"description": "Cursor: return the items with seq greater than this; 0 (the default) reads from the oldest held.",
					"schema":      map[string]any{"type": "integer", "format": "uint64", "minimum": 0, "default": 0},
				},
				map[string]any{
					"name": "limit", "in": "query", "required": false,
					"description": fmt.Sprintf("At most this many items (1 to %d, default %d); a limit outside that range is refused.", rt.feed.max, rt.feed.def),
					"schema":      map[string]any{"type": "integer", "minimum": 1, "maximum": rt.feed.max, "default": rt.feed.def},
				})
		}
		if params != nil {
			op["parameters"] = params
		}
		answer := map[string]any{"type": "object"}
		if rt.answer != nil {
			answer = sb.schema(rt.answer)
		}
		responses := map[string]any{
			"200": map[string]any{
				"description": "OK",
				"content":     map[string]any{"application/json": map[string]any{"schema": answer}},
			},
		}
		for _, code := range errorStatuses {
			responses[fmt.Sprint(code)] = map[string]any{
				"description": http.StatusText(code),
				"content":     map[string]any{"application/json": map[string]any{"schema": errRef}},
			}
		}
		if rt.public {
			// Overrides the document's default: no credentials needed.
			op["security"] = []any{}
		} else {
			responses["401"] = map[string]any{
				"description": "Not paired: the client presented no certificate, or one the printer has not paired. The error says which fingerprint to pair.",
				"content":     map[string]any{"application/json": map[string]any{"schema": errRef}},
			}
		}
		op["responses"] = responses
		paths[rt.path] = map[string]any{"get": op}
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Printer device API",
			"version": "1",
			"description": "The HTTPS API a printer serves to the Command Center on the site's LAN. " +
				"The printer's certificate is self-signed and pinned by its SHA-256 fingerprint at pairing. " +
				"Pairing goes both ways: the operator enters the Command Center's client certificate fingerprint at the printer, " +
				"and every operation but the identity and this document is served only to a client presenting a paired certificate " +
				"(mutual TLS; 401 otherwise). " +
				"Every answer is JSON, errors included ({\"error\": \"...\"}). " +
				"Fields marked x-private hold job, part, user and computer names: they may be shown on the site " +
				"but must never leave it (R-PRIV-2).",
		},
		"paths": paths,
		// Every operation needs a paired client certificate unless it says
		// otherwise (security: []).
		"security": []any{map[string]any{securityScheme: []any{}}},
		"components": map[string]any{
			"schemas": sb.schemas,
			"securitySchemes": map[string]any{securityScheme: map[string]any{
				"type": "mutualTLS",
				"description": "A TLS client certificate paired at the printer: the printer compares its SHA-256 fingerprint " +
					"with the Command Centers paired with it, and checks no chain. Private fields (x-private) and logs are served " +
					"only to a paired client.",
			}},
		},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		// Only maps, slices, strings and numbers above: cannot fail.
		return json.RawMessage(fmt.Sprintf(`{"error":%q}`, err.Error()))
	}
	return b
}

// operationID names a route's operation: getIdentity, getLogs, getOpenapi.
func operationID(p string) string {
	var name string
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "v1" || strings.HasPrefix(seg, "{") {
			continue
		}
		seg, _, _ = strings.Cut(seg, ".")
		name = seg
	}
	return "get" + strings.ToUpper(name[:1]) + name[1:]
}

// schemaBuilder turns Go types into JSON Schema, collecting named struct
// schemas in schemas.
type schemaBuilder struct {
	schemas map[string]any
	names   map[reflect.Type]string
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// schema returns the schema of t: a $ref for a struct, inline otherwise.
func (sb *schemaBuilder) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Implements(textMarshalerType) && t.Kind() == reflect.Uint8:
		return map[string]any{"type": "string", "enum": textEnum(t)}
	}
	if e, ok := stringEnums[t]; ok {
		return map[string]any{"type": "string", "enum": e}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "format": "uint64", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": []any{"array", "null"}, "items": sb.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": []any{"object", "null"}, "additionalProperties": sb.schema(t.Elem())}
	case reflect.Pointer:
		return map[string]any{"anyOf": []any{sb.schema(t.Elem()), map[string]any{"type": "null"}}}
	case reflect.Struct:
		return map[string]any{"$ref": "#/components/schemas/" + sb.object(t)}
	}
	return map[string]any{} // any JSON value; no wire type has such a field
}

// object adds the schema of struct type t to the components and returns
// its name.
func (sb *schemaBuilder) object(t reflect.Type) string {
	if name, ok := sb.names[t]; ok {
		return name
	}
	name := schemaNames[t]
	if name == "" {
		name = t.Name()
	}
	if _, taken := sb.schemas[name]; taken {
		// Two types of one name in different packages: qualify the second.
		name = strings.ReplaceAll(t.String(), ".", "_")
	}
	sb.names[t] = name
	sb.schemas[name] = nil // reserve against recursion
	props := map[string]any{}
	required := []string{}
	sb.fields(t, props, &required)
	slices.Sort(required)
	s := map[string]any{
		"type":                 "object",
		"properties":           props,
		"required":             required,
		"additionalProperties": false,
	}
	if d := typeDocs[name]; d != "" {
		s["description"] = d
	}
	if d, ok := privateTypes[t]; ok {
		s["x-private"] = true
		s["description"] = d
	}
	sb.schemas[name] = s
	return name
}

// fields adds the JSON properties of struct t to props, flattening
// embedded structs as encoding/json does.
func (sb *schemaBuilder) fields(t reflect.Type, props map[string]any, required *[]string) {
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			sb.fields(f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := sb.schema(f.Type)
		if d, ok := privateTypes[f.Type]; ok {
			p = map[string]any{"allOf": []any{p}, "x-private": true, "description": d}
		}
		if _, ok := privateTypes[t]; ok {
			p["x-private"] = true
			p["description"] = "PRIVATE: never leaves the site (R-PRIV-2)."
		}
		props[name] = p
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
}

// textEnum lists the text forms of a uint8 vocabulary type (fleet.State,
// fleet.Severity): every value whose MarshalText succeeds.
func textEnum(t reflect.Type) []string {
	var out []string
	for i := range 256 {
		v := reflect.New(t).Elem()
		v.SetUint(uint64(i))
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

// OpenAPI returns the OpenAPI 3.1 document of the device API, as a
// printer serves it on GET /openapi.json.
func OpenAPI() []byte {
	return openAPIDocument(routeTable(nil))
}
