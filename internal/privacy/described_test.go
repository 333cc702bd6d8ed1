package privacy

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// uplinkRoots are the records this package returns: what leaves the site.
var uplinkRoots = []reflect.Type{
	reflect.TypeFor[fleet.Identity](),
	reflect.TypeFor[fleet.Status](),
	reflect.TypeFor[fleet.Event](),
	reflect.TypeFor[fleet.Job](),
	reflect.TypeFor[fleet.Part](),
	reflect.TypeFor[fleet.Layer](),
	reflect.TypeFor[fleet.Counters](),
	reflect.TypeFor[fleet.Consumables](),
	reflect.TypeFor[fleet.LogLine](),
}

// structFields returns, for every struct type reachable from roots
// (time.Time excepted), its field names in order.
func structFields(roots []reflect.Type) map[string][]string {
	out := map[string][]string{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == timeType {
			return
		}
		if _, ok := out[typeName(t)]; ok {
			return
		}
		out[typeName(t)] = []string{}
		for f := range t.Fields() {
			out[typeName(t)] = append(out[typeName(t)], f.Name)
			walk(f.Type)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return out
}

// documented returns the types and fields ds describes, and reports
// descriptions that are empty or not one sentence.
func documented(t *testing.T, ds []TypeDoc) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, d := range ds {
		name := typeName(d.Type)
		if _, dup := out[name]; dup {
			t.Errorf("%s is described twice", name)
		}
		if !strings.HasSuffix(d.Doc, ".") {
			t.Errorf("%s: description %q is not a sentence", name, d.Doc)
		}
		out[name] = []string{}
		for _, f := range d.Fields {
			if !strings.HasSuffix(f.Doc, ".") {
				t.Errorf("%s.%s: description %q is not a sentence", name, f.Field, f.Doc)
			}
			out[name] = append(out[name], f.Field)
		}
	}
	return out
}

// TestCollectedDescribesTheAllowList checks that Collected describes
// exactly the fields of the records that leave the site, in their order:
// a field added to a record without a description fails here.
func TestCollectedDescribesTheAllowList(t *testing.T) {
	want := structFields(uplinkRoots)
	got := documented(t, Collected())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Collected does not describe the records that leave the site (-fields +described):\n%s", diff)
	}
	for i, r := range uplinkRoots {
		if got := Collected()[i].Type; got != r {
			t.Errorf("Collected()[%d] is %s, want the record %s first, in order", i, got, r)
		}
	}
}

// TestNotCollectedDescribesThePrivateTypes checks that NotCollected
// describes exactly the device types whose every field is private.
func TestNotCollectedDescribesThePrivateTypes(t *testing.T) {
	want := map[string][]string{}
	for _, r := range wireRoots {
		for name, fields := range structFields([]reflect.Type{r}) {
			c := classified[name]
			if len(c) == 0 || slices.ContainsFunc(fields, func(f string) bool { return c[f] }) {
				continue
			}
			want[name] = fields
		}
	}
	got := documented(t, NotCollected())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NotCollected does not describe the private device types (-private +described):\n%s", diff)
	}
}

// TestDescriptionsAreCopies checks that a caller cannot change the tables.
func TestDescriptionsAreCopies(t *testing.T) {
	c := Collected()
	c[0].Fields[0].Doc = "changed."
	if Collected()[0].Fields[0].Doc == "changed." {
		t.Error("Collected shares its table with the caller")
	}
	n := NotCollected()
	n[0].Fields[0].Doc = "changed."
	if NotCollected()[0].Fields[0].Doc == "changed." {
		t.Error("NotCollected shares its table with the caller")
	}
}
