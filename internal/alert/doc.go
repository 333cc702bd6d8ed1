// Package alert finds incidents in the fleet data the cloud ingests and
// keeps them as fleet.Alert: one alert per (printer, rule) while its
// condition holds.
//
// Rules are built in (consumables running out or wearing, faults, offline
// printers, stalled jobs, updates available) or custom per organisation (a
// threshold on one of a fixed list of consumable and counter metrics). The
// Evaluator reads the records of each stream message and the periodic
// Sweep looks for what no record says (a printer that went silent, a job
// that stopped moving); Report takes findings computed elsewhere (an
// update the cloud offers a printer) through the same logic. An alert
// opens when a condition starts, is revised (Revision+1) when its severity
// or detail changes, and resolves when the condition ends; each of these
// is handed to a Notifier. The store guarantees at most one active alert
// per (printer, rule), so several cloud nodes may evaluate at once.
//
// Records are judged by the time they were observed: a record older than
// the last observation a rule made of a printer is ignored, so a replayed
// message changes nothing.
//
// What the package asks of the store is split by its user: Store for the
// Evaluator, SweepStore for the sweep, and for the people acting on alerts
// through the dashboard and the REST API, Tracker (list, acknowledge,
// assign) and RuleEditor (custom and muted rules).
package alert
