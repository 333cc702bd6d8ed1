package main

import "strings"

// progressBar draws the share p (0 to 1) of a task as a bar of width
// characters between brackets: [#####-----]. The demo's fill and the
// bench command draw their progress with it.
func progressBar(p float64, width int) string {
	done := min(width, max(0, int(p*float64(width))))
	return "[" + strings.Repeat("#", done) + strings.Repeat("-", width-done) + "]"
}
