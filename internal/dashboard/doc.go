// Package dashboard is the cloud's web UI: a login-protected "My 3D
// printers" page (R-FEAT-1, seed figure 1) that updates live over
// Server-Sent Events (R-FEAT-9), its JSON API, and the admin page that
// issues one-time gateway enrolment tokens.
//
// NewHandler builds the whole UI as one http.Handler with every route in
// one place. Sessions are random tokens in an HttpOnly cookie, stored only
// as their hash; every POST form carries a per-session CSRF token and
// cross-origin POSTs are refused; every page is sent with a strict Content
// Security Policy, so the page script lives in an embedded static file.
//
// Hub fans out "printers of this organisation changed" to the open event
// streams of that organisation only (R-SEC-6).
package dashboard
