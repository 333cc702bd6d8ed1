// Package site is the Command Center node as a library: Options → New →
// Run.
//
// A node pairs with the site's printers (pinning each printer's certificate
// on first use, confirmed by the operator unless the LAN is trusted, and
// presenting its own client certificate, made once in its data directory,
// which the operator pairs at each printer), polls them, keeps the local
// truth in SQLite in its data directory, and uploads to the cloud over
// outbound HTTPS only, enrolling with a one-time token on first start. It
// mirrors the cloud's signed update repository and serves it, with the
// site's approvals, to the printers under /tuf/ next to the local UI, and
// optionally on a listener of its own for the printers' LAN. Run runs every
// part as an actor of one errgroup: when one fails or the context ends, all
// stop, and the node closes its store and listeners.
//
// New takes the local UI's port first, then enrols and pairs, so that a
// site learns of a taken port range or a wrong token at once. The command
// line only maps its flags to Options.
package site
