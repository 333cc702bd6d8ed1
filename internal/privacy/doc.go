// Package privacy is the uplink allow-list (R-PRIV-1..3): every record that
// leaves a site is built here from the device API's wire types.
//
// Each function copies, field by field, only what the requirements name
// (R-DATA-*). A field added to a device wire type later therefore leaves
// nothing until someone adds it here on purpose; the package's tests fail
// until the new field is classified as allowed or private. Job names, user
// names and computer names (R-PRIV-2) are never copied; should a printer
// write one of them into a free-text field (status activity, job source
// application, warning message, sub-job kind, part completion details), it
// is replaced there by "[private]".
//
// One function per record kind: Identity, Status, Event, Job, Part, Layer,
// Counters, Consumables, LogLine. Each returns a deep copy that shares no
// memory with its input. A job's submitting computer leaves only as
// SourceHostID, an HMAC of its name under a per-site secret, so jobs can
// be grouped by computer in the cloud without the name being recoverable
// or confirmable there.
//
// The allow-list cannot know every name a printer may write into free text:
// an event may name the job it interrupted, a log line the part it
// printed. Names is the site's set of recent private names (fed by the
// gateway from the device data it reads) and Names.Scrub replaces any of
// them, in any string of a record, by "[private]".
package privacy
