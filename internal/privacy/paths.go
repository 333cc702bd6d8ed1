package privacy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// PathMarker replaces a file path in free text.
const PathMarker = "[path]"

// A printer writes file paths into free text as it writes names: the job
// file it opened, the folder a user sent it from. Paths carry user,
// computer and job names that the site may never have seen as names (a
// folder, a share), so they are replaced whole, whatever they contain.
//
// A path is a token of the text (split at spaces, quotes, brackets, ',',
// ';', '=' and '|') that holds a backslash (Windows and UNC paths), or a
// slash and either starts with '/', "~/" or "./", has two slashes or more,
// or ends in a file extension ("Jobs/bracket.3mf"). A URL ("://") is a
// path too, as it may name a share. Single slashes between words
// ("mL/min", "on/off") are kept.

// ScrubPaths returns s with every file path replaced by PathMarker, and
// whether it changed. It does not allocate when s holds none.
func ScrubPaths(s string) (string, bool) {
	if !strings.ContainsAny(s, `/\`) {
		return s, false
	}
	var b strings.Builder
	last, changed := 0, false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if separator(r) {
			i += size
			continue
		}
		j := i
		for j < len(s) {
			r, size := utf8.DecodeRuneInString(s[j:])
			if separator(r) {
				break
			}
			j += size
		}
		if tok := strings.TrimRight(s[i:j], ".:!?"); isPath(tok) {
			if !changed {
				b.Grow(len(s))
			}
			b.WriteString(s[last:i])
			b.WriteString(PathMarker)
			last, changed = i+len(tok), true
		}
		i = j
	}
	if !changed {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}

func separator(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune(`"'()[]<>,;=|`, r)
}

// isPath reports whether a token is a file path.
func isPath(t string) bool {
	if strings.Contains(t, `\`) {
		return true
	}
	n := strings.Count(t, "/")
	switch {
	case n == 0 || t == "/" || !strings.ContainsFunc(t, unicode.IsLetter) && !strings.ContainsFunc(t, unicode.IsDigit):
		return false
	case strings.HasPrefix(t, "/"), strings.HasPrefix(t, "~/"), strings.HasPrefix(t, "./"), n >= 2:
		return true
	}
	base := t[strings.LastIndexByte(t, '/')+1:]
	dot := strings.LastIndexByte(base, '.')
	if dot <= 0 || len(base)-dot-1 < 1 || len(base)-dot-1 > 5 {
		return false
	}
	for _, r := range base[dot+1:] {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
