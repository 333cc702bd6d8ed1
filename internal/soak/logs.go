package soak

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Log keeps what a soak's parts log through its Handler: every warning
// and error in order (each also written as text to a writer), and the
// rows each of retention's "pruned" lines reports removed, summed per
// table. Other lines are dropped.
type Log struct {
	mu      sync.Mutex
	text    slog.Handler
	entries []Entry
	pruned  map[string]int64
}

// Entry is one warning or error.
type Entry struct {
	Time  time.Time         `json:"time"`
	Level string            `json:"level"`
	Msg   string            `json:"msg"`
	Attrs map[string]string `json:"attrs"`
}

// String is the entry as one line.
func (e Entry) String() string {
	keys := make([]string, 0, len(e.Attrs))
	for k := range e.Attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", e.Level, e.Msg)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, e.Attrs[k])
	}
	return b.String()
}

// NewLog returns a Log that writes warnings and errors to w as text.
func NewLog(w io.Writer) *Log {
	return &Log{text: slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}), pruned: map[string]int64{}}
}

// Handler returns the handler the soak's loggers write to.
func (l *Log) Handler() slog.Handler { return &handler{log: l, text: l.text} }

// Entries returns the warnings and errors so far.
func (l *Log) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

// Pruned returns the rows retention reported removed so far, per table.
func (l *Log) Pruned() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int64, len(l.pruned))
	for k, v := range l.pruned {
		out[k] = v
	}
	return out
}

type handler struct {
	log    *Log
	text   slog.Handler
	attrs  []slog.Attr // from WithAttrs, groups flattened into their keys
	prefix string      // of the open groups, "a.b."
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	attrs := map[string]string{}
	for _, a := range h.attrs {
		attrs[a.Key] = a.Value.String()
	}
	var counts map[string]int64
	r.Attrs(func(a slog.Attr) bool {
		attrs[h.prefix+a.Key] = a.Value.String()
		if a.Value.Kind() == slog.KindInt64 {
			if counts == nil {
				counts = map[string]int64{}
			}
			counts[h.prefix+a.Key] = a.Value.Int64()
		}
		return true
	})
	if r.Level < slog.LevelWarn {
		if r.Message == "pruned" && attrs["component"] == "retention" {
			h.log.mu.Lock()
			for k, n := range counts {
				h.log.pruned[k] += n
			}
			h.log.mu.Unlock()
		}
		return nil
	}
	h.log.mu.Lock()
	h.log.entries = append(h.log.entries, Entry{Time: r.Time, Level: r.Level.String(), Msg: r.Message, Attrs: attrs})
	h.log.mu.Unlock()
	return h.text.Handle(ctx, r)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = slices.Clone(h.attrs)
	for _, a := range as {
		c.attrs = append(c.attrs, slog.Attr{Key: h.prefix + a.Key, Value: a.Value})
	}
	c.text = h.text.WithAttrs(as)
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "."
	c.text = h.text.WithGroup(name)
	return &c
}

// Explanation says why a warning or error is expected in a soak. It
// matches an entry of its message whose attributes hold each of Attrs
// (a value matches when it contains the wanted text).
type Explanation struct {
	Msg    string
	Attrs  map[string]string
	Reason string
}

func (x Explanation) matches(e Entry) bool {
	if e.Msg != x.Msg {
		return false
	}
	for k, want := range x.Attrs {
		if !strings.Contains(e.Attrs[k], want) {
			return false
		}
	}
	return true
}

// Classified is how many entries an explanation matched.
type Classified struct {
	Explanation Explanation
	Count       int
}

// Classify sorts entries into those an explanation of known matches
// (counted per explanation, the first that matches) and the unexplained
// rest, and checks that there is no unexplained one.
func Classify(entries []Entry, known []Explanation) ([]Classified, []Entry, Check) {
	counts := make([]Classified, len(known))
	for i, x := range known {
		counts[i].Explanation = x
	}
	var unexplained []Entry
	for _, e := range entries {
		i := slices.IndexFunc(known, func(x Explanation) bool { return x.matches(e) })
		if i < 0 {
			unexplained = append(unexplained, e)
			continue
		}
		counts[i].Count++
	}
	c := Check{Name: "log", OK: len(unexplained) == 0,
		Detail: fmt.Sprintf("%d warnings and errors, %d unexplained", len(entries), len(unexplained))}
	if len(unexplained) > 0 {
		c.Detail += "; the first: " + unexplained[0].String()
	}
	return counts, unexplained, c
}
