package updaterepo

import (
	"fmt"
	"io"
	"strings"
)

// progress draws a one-line text progress bar as bytes pass through
// Write, redrawing only when the percentage changes.
type progress struct {
	w           io.Writer
	label       string
	total, done int64
	shown       int // last percentage drawn, -1 before the first
}

func newProgress(w io.Writer, label string, total int64) *progress {
	p := &progress{w: w, label: label, total: total, shown: -1}
	p.draw()
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	p.draw()
	return len(b), nil
}

func (p *progress) percent() int {
	if p.total <= 0 {
		return 100
	}
	return int(min(100, p.done*100/p.total))
}

func (p *progress) draw() {
	pct := p.percent()
	if pct == p.shown {
		return
	}
	p.shown = pct
	const width = 30
	fill := pct * width / 100
	fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %s/%s", p.label, strings.Repeat("#", fill), strings.Repeat(".", width-fill),
		pct, byteSize(p.done), byteSize(p.total))
}

// finish ends the bar's line.
func (p *progress) finish() {
	p.draw()
	fmt.Fprintln(p.w)
}

// byteSize formats n bytes with a binary unit.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
