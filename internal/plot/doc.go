// Package plot draws charts as inline SVG on the server: line charts over
// time, bars, percentile bands and heat maps. No script and no library is
// needed to read them, they print, and each carries a title and a text
// summary for screen readers. Colours come from CSS classes (.plot …) so
// the page's stylesheet decides them and the content security policy can
// forbid inline styles.
package plot
