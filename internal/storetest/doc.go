// Package storetest is the contract every cloud store meets, written once
// and run against every backend, so that they behave alike down to the
// errors they return.
//
// # Capabilities
//
// The contract is cut by capability. Each capability is a few small
// interfaces of one to eight methods, the shape a caller declares for what
// it uses, and one suite that drives them:
//
//	suite             capability interfaces                               file
//	RunIdentity       Accounts Sessions SecondFactors LoginChallenges     identity.go
//	                  AccessTokens
//	RunTenants        Orgs Membership Gateways                            tenants.go
//	RunIngest         Ingest Placement                                    ingest.go
//	RunFleetReads     PrinterReads JobReads HistoryReads                  reads.go
//	RunAlerts         AlertTracking AlertTriage RuleSettings              alerts.go
//	RunNotifications  Channels Subscriptions DeliveryQueue                notify.go
//	RunKPIs           KPIs                                                kpi.go
//	RunUpdates        Versions                                            updates.go
//	RunHousekeeping   Housekeeping                                        housekeeping.go
//	RunAudit          AuditLog                                            audit.go
//	RunPlans          Plans                                               plans.go
//
// A suite's tests exercise their capability and need a little of others
// to set up: a user belongs to an organisation, an alert is about an
// ingested printer. So each RunXxx takes stores of an XxxStore interface
// that embeds the capability's interfaces and the few it sets up with;
// TenantStore, for instance, is Orgs, Membership and Gateways, with
// Accounts and Sessions to see members through. Shared setup takes the
// smallest interface it needs (tenant takes Orgs, apply takes Ingest).
// Every suite that checks how a closed store fails also needs io.Closer.
//
// Store is the union of every capability interface, and Run runs every
// suite, each test on a fresh store.
//
// # A new backend
//
// A backend's tests call Run with a function that opens a fresh, empty
// store and registers its cleanup with t:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store { return openTest(t) })
//	}
//
// A backend that offers only some capabilities, or a fake standing in for
// one, calls the suites it implements, each with its XxxStore.
//
// # A new capability
//
// Declare its small interfaces, an XxxStore that adds what its setup
// needs, and a RunXxx over a table of tests, in a file of its own; embed
// the interfaces in Store and add the suite to Run. A method added to an
// existing capability goes into its interface and is tested in its suite.
//
// Besides the contract, the package holds the records the tests and
// benchmarks are built from (T0, Env, StatusRecord, LayerRecord, …) and the
// page benchmark's fixture and driver (pages.go). It is imported by tests
// only.
package storetest
