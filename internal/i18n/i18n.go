package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Lang is a supported language, as a BCP 47 primary tag.
type Lang string

// The supported languages. English comes first: it is the default.
const (
	English Lang = "en"
	German  Lang = "de"
)

// Supported lists the languages users may choose, default first.
func Supported() []Lang { return []Lang{English, German} }

// Name is the language's name in itself, for a language menu.
func (l Lang) Name() string {
	switch l {
	case German:
		return "Deutsch"
	}
	return "English"
}

// Parse returns the supported language s names ("de", "de-DE", "EN").
func Parse(s string) (Lang, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexAny(s, "-_"); i >= 0 {
		s = s[:i]
	}
	for _, l := range Supported() {
		if string(l) == s {
			return l, true
		}
	}
	return "", false
}

// Negotiate picks the best supported language of an Accept-Language
// header, English when none fits.
func Negotiate(acceptLanguage string) Lang {
	best, bestQ := English, 0.0
	for part := range strings.SplitSeq(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		if l, ok := Parse(tag); ok && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

//go:embed de/*.json
var catalogFS embed.FS

// catalogs maps a language to its messages. It is built once from embedded
// files and only read afterwards.
var catalogs = mustLoad(catalogFS)

func mustLoad(fsys fs.FS) map[Lang]map[string]string {
	c, err := load(fsys)
	if err != nil {
		// The catalogs are embedded: a broken one is a bug every test catches.
		panic(err)
	}
	return c
}

// load reads every <lang>/*.json of fsys. A message translated twice
// differently is an error: two features disagreeing about a word.
func load(fsys fs.FS) (map[Lang]map[string]string, error) {
	out := make(map[Lang]map[string]string)
	files, err := fs.Glob(fsys, "*/*.json")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		l, ok := Parse(path.Dir(f))
		if !ok || l == English {
			return nil, fmt.Errorf("i18n: %s: not a translated language", f)
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", f, err)
		}
		if out[l] == nil {
			out[l] = make(map[string]string)
		}
		for k, v := range m {
			if old, dup := out[l][k]; dup && old != v {
				return nil, fmt.Errorf("i18n: %s: %q translated twice: %q and %q", f, k, old, v)
			}
			out[l][k] = v
		}
	}
	return out, nil
}

// T translates msg and, given args, formats it like fmt.Sprintf. Unknown
// messages stay English.
func (l Lang) T(msg string, args ...any) string {
	if t, ok := catalogs[l][msg]; ok {
		msg = t
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
}

// Has reports whether l has a translation of msg; English has them all.
func (l Lang) Has(msg string) bool {
	if l == English {
		return true
	}
	_, ok := catalogs[l][msg]
	return ok
}

// printingLayer is how printers say what they print.
var printingLayer = regexp.MustCompile(`^printing layer (\d+) of (\d+)$`)

// Activity translates what a printer says it does, where that is one of
// the phrases printers use ("cooling", "printing layer 3 of 40", "error: "
// and an event's description); anything else stays as the printer said.
func (l Lang) Activity(a string) string {
	if m := printingLayer.FindStringSubmatch(a); m != nil {
		return l.T("printing layer %s of %s", m[1], m[2])
	}
	if fault, ok := strings.CutPrefix(a, "error: "); ok {
		return l.T("error: %s", l.T(fault))
	}
	return l.T(a)
}

// germanMonths are the abbreviations German readers expect.
var germanMonths = [...]string{"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."}

// ShortMonth is m's abbreviation as readers of l write it in a date:
// "Mar" or "März".
func (l Lang) ShortMonth(m time.Month) string {
	if l == German {
		return germanMonths[m-1]
	}
	return m.String()[:3]
}
