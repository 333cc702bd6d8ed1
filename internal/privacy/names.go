package privacy

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// DefaultNameLimit is how many private names a Names keeps unless told
// otherwise: the names of a few hundred recent jobs with their parts.
const DefaultNameLimit = 20000

// MinNameRunes is the length, in characters after trimming spaces, below
// which a name is not scrubbed: replacing every "AB" would mangle the text
// without protecting anything.
const MinNameRunes = 3

// Names is the set of private strings known on a site (job, user, computer
// and part names, geometry references), kept so that a record can be
// scrubbed of them wherever a printer wrote them: the allow-list drops the
// private fields, but free text (an event's description, a log line, a
// warning) may still name a job or a part.
//
// Names are matched case-insensitively (Unicode simple case folding) and
// replaced by "[private]". A Names holds at most its limit of names; adding
// beyond it forgets the names added or re-added longest ago, so a gateway
// feeding it the names of every job it reads keeps a window of the recent
// ones. Names shorter than MinNameRunes, and names that occur in
// "[private]" itself, are ignored.
//
// Safe for concurrent use. The zero value is ready and holds up to
// DefaultNameLimit names.
type Names struct {
	mu    sync.RWMutex
	limit int
	gen   uint64                  // increases with every Add of a name
	names map[string]*knownName   // by folded form
	index map[uint64][]*knownName // by the folded first three runes; longest first
	first [4]uint64               // bit set of folded first runes (mod 256): a quick "no"
	order []nameUse               // uses oldest first; stale ones (gen moved on) are skipped
}

// knownName is one name in folded form.
type knownName struct {
	key  string // string(fold)
	fold []rune
	gen  uint64 // of its latest Add
}

// nameUse is one Add of a name, for forgetting the oldest.
type nameUse struct {
	n   *knownName
	gen uint64
}

// NewNames returns an empty set that keeps at most limit names (<= 0:
// DefaultNameLimit).
func NewNames(limit int) *Names {
	return &Names{limit: limit}
}

// Add adds names to the set, or marks them as recently seen when known.
// Surrounding spaces are trimmed; empty, short and marker-like names are
// ignored.
func (n *Names) Add(names ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.names == nil {
		n.names, n.index = map[string]*knownName{}, map[uint64][]*knownName{}
	}
	for _, s := range names {
		s = strings.TrimSpace(s)
		if utf8.RuneCountInString(s) < MinNameRunes {
			continue
		}
		fold := foldString(s)
		if inMarker(fold) {
			continue
		}
		n.gen++
		key := string(fold)
		k, ok := n.names[key]
		if !ok {
			k = &knownName{key: key, fold: fold}
			n.names[key] = k
			n.insert(k)
		}
		k.gen = n.gen
		n.order = append(n.order, nameUse{k, n.gen})
	}
	n.forget()
}

// Len returns how many names the set holds.
func (n *Names) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.names)
}

// insert puts k into the index, keeping each bucket longest first (ties
// by folded form, so the order never depends on the order of Adds).
func (n *Names) insert(k *knownName) {
	key := indexKey(k.fold[0], k.fold[1], k.fold[2])
	b := append(n.index[key], k)
	slices.SortFunc(b, func(x, y *knownName) int {
		if c := cmp.Compare(len(y.fold), len(x.fold)); c != 0 {
			return c
		}
		return strings.Compare(x.key, y.key)
	})
	n.index[key] = b
	n.first[(k.fold[0]&255)>>6] |= 1 << (k.fold[0] & 63)
}

// forget drops the names used longest ago while the set is over its limit,
// and compacts the use list when stale uses dominate it.
func (n *Names) forget() {
	limit := n.limit
	if limit <= 0 {
		limit = DefaultNameLimit
	}
	for len(n.names) > limit && len(n.order) > 0 {
		u := n.order[0]
		n.order = n.order[1:]
		if u.gen != u.n.gen {
			continue // added again since
		}
		delete(n.names, u.n.key)
		key := indexKey(u.n.fold[0], u.n.fold[1], u.n.fold[2])
		b := slices.DeleteFunc(n.index[key], func(k *knownName) bool { return k == u.n })
		if len(b) == 0 {
			delete(n.index, key)
		} else {
			n.index[key] = b
		}
	}
	if len(n.order) > 2*len(n.names)+64 {
		live := make([]nameUse, 0, len(n.names))
		for _, u := range n.order {
			if u.gen == u.n.gen {
				live = append(live, u)
			}
		}
		n.order = live
		n.first = [4]uint64{}
		for _, k := range n.names {
			n.first[(k.fold[0]&255)>>6] |= 1 << (k.fold[0] & 63)
		}
	}
}

// ScrubString returns s with every known name replaced by "[private]"
// and every file path by PathMarker (ScrubPaths). It does not allocate
// when s names none and holds no path.
func (n *Names) ScrubString(s string) string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out, _ := n.scrub(s)
	return out
}

// Scrub replaces every known name in every string of rec, nested structs,
// slices, pointers and map keys and values included, by "[private]".
// Strings of the record's closed vocabularies (fleet.Kind, fleet.JobStatus,
// fleet.PartOutcome, fleet.LogKind) and the printer's ID (fleet.PrinterID)
// are left alone: they are validated values, not text, and cannot carry a
// name unnoticed. An identifier field (a job ID, say) that contained a
// name is no longer a valid identifier afterwards; the caller checks the
// record again. Two map keys that become one keep the value of the key
// that sorted first.
func (n *Names) Scrub(rec *fleet.Record) {
	if rec == nil {
		return
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	n.scrubValue(reflect.ValueOf(rec).Elem())
}

// scrubValue scrubs the strings reachable from v, which is settable.
func (n *Names) scrubValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if exempt(v.Type()) {
			return
		}
		if s, ok := n.scrub(v.String()); ok {
			v.SetString(s)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			n.scrubValue(v.Elem())
		}
	case reflect.Interface:
		if !v.IsNil() {
			e := reflect.New(v.Elem().Type()).Elem()
			e.Set(v.Elem())
			n.scrubValue(e)
			v.Set(e)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				n.scrubValue(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			n.scrubValue(v.Index(i))
		}
	case reflect.Map:
		n.scrubMap(v)
	}
}

// scrubMap scrubs a map's values in place and, should a string key name
// someone, rebuilds the map with scrubbed keys.
func (n *Names) scrubMap(v reflect.Value) {
	if v.Len() == 0 {
		return
	}
	keys := v.MapKeys()
	stringKeys := v.Type().Key().Kind() == reflect.String && !exempt(v.Type().Key())
	if stringKeys {
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	}
	renamed := false
	newKeys := make([]reflect.Value, len(keys))
	for i, k := range keys {
		e := reflect.New(v.Type().Elem()).Elem()
		e.Set(v.MapIndex(k))
		n.scrubValue(e)
		v.SetMapIndex(k, e)
		newKeys[i] = k
		if stringKeys {
			if s, ok := n.scrub(k.String()); ok {
				nk := reflect.New(k.Type()).Elem()
				nk.SetString(s)
				newKeys[i], renamed = nk, true
			}
		}
	}
	if !renamed {
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(keys))
	for i, k := range keys {
		if m.MapIndex(newKeys[i]).IsValid() {
			continue // two keys became one: the first keeps it
		}
		m.SetMapIndex(newKeys[i], v.MapIndex(k))
	}
	v.Set(m)
}

// exempt reports whether strings of type t are left alone by Scrub.
func exempt(t reflect.Type) bool {
	if t.PkgPath() == "" {
		return false // plain string
	}
	switch t {
	case reflect.TypeFor[fleet.Kind](), reflect.TypeFor[fleet.JobStatus](), reflect.TypeFor[fleet.PartOutcome](),
		reflect.TypeFor[fleet.LogKind](), reflect.TypeFor[fleet.PrinterID]():
		return true
	}
	return false
}

// scrub returns s with every known name replaced, and whether it changed.
// Matches are taken left to right, the longest at each position. Should
// the replacements have formed a name anew (a name that overlaps
// "[private]" and the text beside it), the whole string is replaced: the
// result never holds a known name. The caller holds n.mu.
func (n *Names) scrub(s string) (string, bool) {
	s, pathed := ScrubPaths(s)
	if len(n.names) == 0 || len(s) < MinNameRunes {
		return s, pathed
	}
	start, end := n.next(s, 0)
	if start < 0 {
		return s, pathed
	}
	out := make([]byte, 0, len(s)+len(redacted))
	last := 0
	for start >= 0 {
		out = append(out, s[last:start]...)
		out = append(out, redacted...)
		last = end
		start, end = n.next(s, end)
	}
	out = append(out, s[last:]...)
	res := string(out)
	if i, _ := n.next(res, 0); i >= 0 {
		return redacted, true
	}
	return res, true
}

// next returns the byte range of the first known name in s at or after
// byte offset i, or -1, -1.
func (n *Names) next(s string, i int) (start, end int) {
	for i < len(s) {
		r0, w0 := foldAt(s, i)
		if n.first[(r0&255)>>6]&(1<<(r0&63)) != 0 {
			if e := n.matchAt(s, i+w0, r0); e >= 0 {
				return i, e
			}
		}
		i += w0
	}
	return -1, -1
}

// matchAt returns the end of the longest known name that starts with r0
// and continues at byte offset j of s, or -1.
func (n *Names) matchAt(s string, j int, r0 rune) int {
	if j >= len(s) {
		return -1
	}
	r1, w1 := foldAt(s, j)
	j += w1
	if j >= len(s) {
		return -1
	}
	r2, w2 := foldAt(s, j)
	j += w2
	for _, k := range n.index[indexKey(r0, r1, r2)] {
		if e := matchRest(s, j, k.fold[3:]); e >= 0 {
			return e
		}
	}
	return -1
}

// matchRest returns the end of rest (folded runes) in s from byte offset
// j, or -1 when s does not continue so.
func matchRest(s string, j int, rest []rune) int {
	for _, want := range rest {
		if j >= len(s) {
			return -1
		}
		r, w := foldAt(s, j)
		if r != want {
			return -1
		}
		j += w
	}
	return j
}

// indexKey packs three folded runes (21 bits each) into a map key.
func indexKey(r0, r1, r2 rune) uint64 {
	return uint64(r0)<<42 | uint64(r1)<<21 | uint64(r2)
}

// foldAt decodes the rune at byte offset i of s and folds it. An invalid
// byte decodes as utf8.RuneError of width 1.
func foldAt(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		return rune(c), 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	return fold(r), w
}

// fold maps r to the smallest rune of its simple case-folding orbit, so
// that two runes fold equal exactly when strings.EqualFold holds for them.
func fold(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}

// foldString returns the folded runes of s, decoded as foldAt does.
func foldString(s string) []rune {
	out := make([]rune, 0, len(s))
	for i := 0; i < len(s); {
		r, w := foldAt(s, i)
		out = append(out, r)
		i += w
	}
	return out
}

// inMarker reports whether the folded name occurs in "[private]": such a
// name cannot be told from the marker that replaces names.
func inMarker(name []rune) bool {
	marker := foldString(redacted)
	for i := 0; i+len(name) <= len(marker); i++ {
		if slices.Equal(marker[i:i+len(name)], name) {
			return true
		}
	}
	return false
}
