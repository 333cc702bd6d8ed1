// Package dashboard is the cloud's web UI: a login-protected "My 3D
// printers" page (R-FEAT-1, seed figure 1) that updates live over
// Server-Sent Events (R-FEAT-9), its JSON feed, the admin pages for users
// (role and sites) and gateway enrolment tokens, and each user's API
// tokens and two-factor login (R-PEER-2).
//
// NewHandler builds the whole UI as one http.Handler from one route table
// in which every route says what it requires (access.Requirement);
// authorize, the one middleware, resolves the session to an
// access.Principal and enforces the requirement before any handler runs.
// Handlers scope every store call by the principal's organisation and
// filter by its sites. Sessions are random tokens in an HttpOnly cookie,
// stored only as their hash; every POST form carries a per-session CSRF
// token and cross-origin POSTs are refused; every page is sent with a
// strict Content Security Policy, so the page script lives in an embedded
// static file. Login is password, then a TOTP or recovery code when the
// user has two-factor login. Failures are throttled in the store, shared
// by every node: per user name and client address, so that an attacker
// cannot lock the user out from elsewhere, and, with a far higher
// threshold, per user name. Users change their own password (with the
// current one); an admin resets another's to a one-time password that
// must be replaced at the next login. Both end the user's other sessions.
// POST /api/account/password is the change for a logged-in script (the
// same form fields, JSON answers); no API token can change a password.
//
// The dashboard takes the cloud store as capabilities (Deps), and each
// group of pages holds only the ones it uses:
//
//	every route (authorize)           Sessions, GrantLookup, Orgs (acting for a customer)
//	login, logout, two-factor         Sessions, TwoFactor, Throttle
//	My 3D printers, its feed, events  Sessions, Printers, Sites, WorstAlerts, GrantLookup (+ the updates banner)
//	printer page                      Printers, Sites, History, Jobs, Alerts
//	moving a printer to a site        Printers, PrinterSites
//	jobs, CSV export, job page        Printers, Sites, Jobs
//	KPIs, benchmark, usage            Printers, Sites, KPIs
//	updates                           Releases, Printers, Sites
//	alerts and alert rules            Alerts, AlertRules, Members, Sites
//	sites and enrolment               Sites, Printers
//	users                             Members, Sites, Passwords
//	API tokens                        Tokens, Members, Sites
//	notifications                     Channels, NotifyPrefs
//	account                           Members, Sessions, Passwords, Throttle
//	service access, customers         Grants, GrantLookup, Orgs, Sites, Audit
//
// A service provider's user chooses a customer on the Customers page: the
// grant's ID is kept in a cookie and, on every request but the user's own
// pages (customers, account, logout: homeRoutes), authorize reads the
// grant from the store and acts under it (access.UnderGrant), so a revoked
// or expired grant is refused at the next request on every node, and the
// choice is then forgotten. Only routes whose requirement names the
// status scope (grantStatus) open to it.
//
// Sessions, TwoFactor, Throttle, Passwords and WorstAlerts are the
// dashboard's own; the others are declared once by the package owning the
// concept (access, fleetquery, alert, notify, kpi) because the REST API
// uses them too.
//
// Hub fans out "printers of this organisation changed" to the open event
// streams of that organisation only (R-SEC-6).
package dashboard
