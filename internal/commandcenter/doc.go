// Package commandcenter is the on-site gateway (R-ARCH-1..3): it polls the
// printers of one site over their pinned HTTPS device API, keeps the local
// truth in SQLite, passes every outgoing record through the privacy
// allow-list into a durable outbox numbered by the gateway's own sequence,
// uploads the outbox to the cloud in order and exactly once as far as the
// cloud can tell (R-PEER-5), and serves the local UI on a port in 8080–8090
// (R-ARCH-6).
//
// The parts are independent actors, each with Run(ctx) error:
//
//	Poller    printers → Store (local state + outbox), one goroutine per printer
//	Uploader  Store outbox → Cloud, acknowledged records deleted
//	NewHandler  Store → local UI and JSON API
//
// Poller and Uploader also expose PollOnce and UploadOnce so tests (and
// callers that want one step) can drive them without sleeping.
package commandcenter
