package storetest

import "testing"

// Store is every capability of a cloud store: the union that Run drives.
type Store interface {
	// Identity and sessions (identity.go).
	Accounts
	Sessions
	SecondFactors
	LoginChallenges
	AccessTokens
	LoginThrottle
	// Tenants and sites (tenants.go).
	Orgs
	Membership
	Gateways
	// Grants to service providers (grants.go).
	Grants
	// Ingest (ingest.go).
	Ingest
	Placement
	// Fleet reads (reads.go).
	PrinterReads
	JobReads
	HistoryReads
	// Alerts (alerts.go).
	AlertTracking
	AlertTriage
	RuleSettings
	// Notifications (notify.go).
	Channels
	Subscriptions
	DeliveryQueue
	// KPIs and benchmark (kpi.go).
	KPIs
	// Updates (updates.go).
	Versions
	// Housekeeping (housekeeping.go).
	Housekeeping
	// Audit log (audit.go).
	AuditLog
	// Plans (plans.go).
	Plans
	// Remote diagnostics (diagnostics.go).
	Diagnostics
	// Air-gapped bundles (bundles.go).
	BundleImports
	// The learning loop (learn.go).
	Learning
}

// Run runs every capability's suite against stores made by open, one
// fresh store per test. open registers the store's cleanup with t.
func Run(t *testing.T, open func(t *testing.T) Store) {
	suites := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Identity", func(t *testing.T) { RunIdentity(t, func(t *testing.T) IdentityStore { return open(t) }) }},
		{"Tenants", func(t *testing.T) { RunTenants(t, func(t *testing.T) TenantStore { return open(t) }) }},
		{"Grants", func(t *testing.T) { RunGrants(t, func(t *testing.T) GrantStore { return open(t) }) }},
		{"Ingest", func(t *testing.T) { RunIngest(t, func(t *testing.T) IngestStore { return open(t) }) }},
		{"FleetReads", func(t *testing.T) { RunFleetReads(t, func(t *testing.T) FleetStore { return open(t) }) }},
		{"Alerts", func(t *testing.T) { RunAlerts(t, func(t *testing.T) AlertStore { return open(t) }) }},
		{"Notifications", func(t *testing.T) { RunNotifications(t, func(t *testing.T) NotifyStore { return open(t) }) }},
		{"KPIs", func(t *testing.T) { RunKPIs(t, func(t *testing.T) KPIStore { return open(t) }) }},
		{"Updates", func(t *testing.T) { RunUpdates(t, func(t *testing.T) UpdateStore { return open(t) }) }},
		{"Housekeeping", func(t *testing.T) { RunHousekeeping(t, func(t *testing.T) HousekeepingStore { return open(t) }) }},
		{"Audit", func(t *testing.T) { RunAudit(t, func(t *testing.T) AuditStore { return open(t) }) }},
		{"Plans", func(t *testing.T) { RunPlans(t, func(t *testing.T) PlanStore { return open(t) }) }},
		{"Diagnostics", func(t *testing.T) { RunDiagnostics(t, func(t *testing.T) DiagnosticStore { return open(t) }) }},
		{"BundleImports", func(t *testing.T) { RunBundleImports(t, func(t *testing.T) BundleImportStore { return open(t) }) }},
		{"Learning", func(t *testing.T) { RunLearning(t, func(t *testing.T) LearningStore { return open(t) }) }},
	}
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel() // every test opens a store of its own
			s.run(t)
		})
	}
}

// storeTest is one test of a suite, on a fresh store of type S.
type storeTest[S any] struct {
	name string
	fn   func(*testing.T, S)
}

// runTests runs each test as a subtest on its own store made by open.
func runTests[S any](t *testing.T, open func(t *testing.T) S, tests []storeTest[S]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}
