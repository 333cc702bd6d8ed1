// Package commandcenter is the on-site gateway (R-ARCH-1..3): it polls the
// printers of one site over their pinned HTTPS device API (mutual TLS: the
// printers serve private fields only to a Command Center paired with them),
// keeps the local truth in SQLite (the database of package sitedb), passes
// every outgoing record through the privacy allow-list into the durable
// outbox (package outbox) numbered by the gateway's own sequence, and
// uploads the outbox to the cloud in order and exactly once as far as the
// cloud can tell (R-PEER-5). Its local UI on a port in 8080–8090 (R-ARCH-6)
// is package localui.
//
// The parts are independent actors, each with Run(ctx) error:
//
//	Poller    printers → Store (local state + outbox), one goroutine per printer,
//	          a bounded number of polls in flight, each printer's connection
//	          kept while its address and pin hold, polls ending together
//	          committed together
//	Uploader  outbox → Cloud, acknowledged records deleted, attempts logged in Store
//
// Poller and Uploader also expose PollOnce and UploadOnce so tests (and
// callers that want one step) can drive them without sleeping; their loops
// are tested on testing/synctest's fake time.
package commandcenter
