// Package e2e holds whole-system tests: the demo started through the real
// command's run function, logged in to and watched in a browser-like
// client, and checks of the repository's own architecture rules (package
// comments, import boundaries between the tiers).
package e2e
