// Package restapi is the cloud's public REST API (R-PEER-3): JSON under
// /api/v1/, authenticated with API tokens ("Authorization: Bearer
// ffat_…"), described by the OpenAPI 3.1 document served at
// /api/openapi.json.
//
// Every route is declared once, in the route table of handler.go, with
// what it requires (access.Requirement). The one middleware resolves the
// bearer token to an access.Principal, asks access.Check, and only then
// runs the handler, which gets the principal and scopes every store call by
// its organisation and sites. The same table builds the mux and is checked
// against the OpenAPI document by the tests, so neither can drift.
//
// The API takes the cloud store as capabilities (Deps), and each group of
// operations holds only the ones it uses:
//
//	every route (authorize)        TokenLookup, Members (the token's owner)
//	account                        Members
//	sites, enrolment tokens        Sites
//	printers, detail, history      Printers, History
//	moving a printer to a site     Printers, PrinterSites
//	jobs                           Printers, Jobs
//	users                          Members, Passwords (an admin's reset)
//	API tokens                     Tokens
//	alerts and alert rules         Alerts, AlertRules, Members
//	notifications                  Channels, NotifyPrefs
//	KPIs, benchmark, usage         Printers, Sites, KPIs
//	updates                        Releases, Printers
//	grants                         Grants, GrantLookup, Orgs, Audit
//
// TokenLookup and Passwords are the API's own; the others are declared once by the
// package owning the concept (access, fleetquery, alert, notify, kpi)
// because the dashboard uses them too.
//
// A service provider's token acts on a customer's data under a grant the
// request names in the FusionFleet-Grant header (GrantHeader): the
// principal resolves it afresh on every request (grant.Act), and only the
// routes whose requirement names the status scope (grantRead) open to it.
//
// A token can neither create tokens nor change its owner's password (nor
// reset it): both are for a logged-in user in the dashboard.
//
// Errors are JSON {"error": "..."}; writeError and statusOf are the one
// place errors become HTTP statuses.
package restapi
