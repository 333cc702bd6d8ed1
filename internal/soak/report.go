package soak

import (
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/plot"
)

// Result is everything a soak found.
type Result struct {
	Start       time.Time    `json:"start"` // simulated time of day 0
	Summary     []string     `json:"summary"`
	Samples     []Sample     `json:"samples"`
	Tables      []Table      `json:"tables"`
	Logs        []Classified `json:"logs"`
	Unexplained []Entry      `json:"unexplained"`
	Verdict     Verdict      `json:"verdict"`
}

// Text is the report as plain text: the summary lines, the verdict, the
// tables, and the explained warnings and errors.
func (r Result) Text() string {
	var b strings.Builder
	for _, s := range r.Summary {
		fmt.Fprintln(&b, s)
	}
	fmt.Fprintln(&b, "\nverdict:")
	b.WriteString(r.Verdict.String())
	fmt.Fprintln(&b, "\ntables (rows at the end, pruned, a day, kept, predicted, bytes a row):")
	for _, t := range r.Tables {
		fmt.Fprintf(&b, "  %-22s %10d %10d %10.0f %10s %10.0f %8.0f\n", t.Name, t.Rows, t.Pruned, t.PerDay, days(t.Keep), t.Predicted, t.BytesPerRow)
	}
	fmt.Fprintln(&b, "\nwarnings and errors explained:")
	for _, c := range r.Logs {
		if c.Count > 0 {
			fmt.Fprintf(&b, "  %5d × %q: %s\n", c.Count, c.Explanation.Msg, c.Explanation.Reason)
		}
	}
	for _, e := range r.Unexplained {
		fmt.Fprintf(&b, "  UNEXPLAINED %s\n", e)
	}
	return b.String()
}

// Write writes the report into dir: report.txt (Text), result.json (every
// figure) and report.html (the text and plots of memory, goroutines and
// open files, disk and rows over the simulated days).
func (r Result) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.txt"), []byte(r.Text()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "result.json"), js, 0o644); err != nil {
		return err
	}
	var page strings.Builder
	page.WriteString("<!doctype html><meta charset=utf-8><title>Soak</title><style>" + style + "</style>")
	fmt.Fprintf(&page, "<h1>Soak</h1><pre>%s</pre>", template.HTMLEscapeString(r.Text()))
	for _, c := range r.charts() {
		page.WriteString(string(c.SVG()))
	}
	return os.WriteFile(filepath.Join(dir, "report.html"), []byte(page.String()), 0o644)
}

// charts are the report's plots, over the simulated days.
func (r Result) charts() []plot.Lines {
	if len(r.Samples) == 0 {
		return nil
	}
	at := func(s Sample) time.Time { return r.Start.Add(time.Duration(s.Day * 24 * float64(time.Hour))) }
	series := func(name string, get func(Sample) float64) plot.Series {
		ps := plot.Series{Name: name}
		for _, s := range r.Samples {
			ps.Points = append(ps.Points, plot.Point{T: at(s), V: get(s)})
		}
		return ps
	}
	from, to := at(r.Samples[0]), at(r.Samples[len(r.Samples)-1])
	const mib = 1 << 20
	out := []plot.Lines{
		{Title: "Memory (MiB)", Unit: "MiB", From: from, To: to, Series: []plot.Series{
			series("resident", func(s Sample) float64 { return float64(s.RSS) / mib }),
			series("live heap", func(s Sample) float64 { return float64(s.LiveHeap) / mib }),
		}},
		{Title: "Goroutines and open files", From: from, To: to, Series: []plot.Series{
			series("goroutines", func(s Sample) float64 { return float64(s.Goroutines) }),
			series("open files", func(s Sample) float64 { return float64(s.FDs) }),
		}},
	}
	disk := plot.Lines{Title: "Disk (MiB)", Unit: "MiB", From: from, To: to}
	for _, k := range keys(r.Samples, func(s Sample) map[string]int64 { return s.Disk }) {
		disk.Series = append(disk.Series, series(k, func(s Sample) float64 { return float64(s.Disk[k]) / mib }))
	}
	rows := plot.Lines{Title: "Rows of the pruned tables", From: from, To: to}
	for _, t := range r.Tables {
		if t.Pruned > 0 {
			rows.Series = append(rows.Series, series(t.Name, func(s Sample) float64 { return float64(s.Rows[t.Name]) }))
		}
	}
	return append(out, disk, rows)
}

// keys returns the sorted keys of the maps get reads of the samples.
func keys(samples []Sample, get func(Sample) map[string]int64) []string {
	var out []string
	for _, s := range samples {
		for k := range get(s) {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// style is the dashboard's stylesheet for internal/plot's charts.
const style = `body{font-family:system-ui,sans-serif;max-width:52rem;margin:1rem auto}pre{white-space:pre-wrap}
svg.plot{width:100%;height:auto;display:block}
.plot-box{container-type:inline-size}.plot-box>svg.plot-narrow{display:none}
@container (max-width: 30rem){.plot-box>svg.plot-wide{display:none}.plot-box>svg.plot-narrow{display:block}}
svg.plot .grid{stroke:#dde1e6;stroke-width:1}svg.plot text{font:11px system-ui,sans-serif;fill:#5a6270}
svg.plot text.label,svg.plot text.legend{fill:#14233a;font-size:12px}svg.plot text.title{fill:#14233a;font-size:13px;font-weight:600}
svg.plot .line{fill:none;stroke-width:2}
svg.plot .c0{stroke:#0b5cad;fill:#0b5cad}svg.plot .c1{stroke:#b3261e;fill:#b3261e}svg.plot .c2{stroke:#1f7a3a;fill:#1f7a3a}
svg.plot .c3{stroke:#8a5300;fill:#8a5300}svg.plot .c4{stroke:#6a3d9a;fill:#6a3d9a}svg.plot .c5{stroke:#00707a;fill:#00707a}
svg.plot .line.c0,svg.plot .line.c1,svg.plot .line.c2,svg.plot .line.c3,svg.plot .line.c4,svg.plot .line.c5{fill:none}`
