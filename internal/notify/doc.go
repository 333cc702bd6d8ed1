// Package notify tells people about alerts: by e-mail over SMTP to users
// who asked for it and to shared mailboxes, and by signed webhooks to the
// organisation's systems.
//
// Notify turns one revision of an alert into durable deliveries in the
// store, one per matching recipient; Run sends the due ones, retries
// failures with exponential backoff and jitter, gives up after a maximum
// age, and records every attempt in the delivery log. A delivery is keyed
// by (alert, revision, recipient): enqueueing it twice — a replay, or two
// cloud nodes evaluating the same alert — sends it once, so one incident
// gives one notification until it changes, plus one when it is resolved.
//
// Webhook requests carry FusionFleet-Timestamp and FusionFleet-Signature
// (v1=hex HMAC-SHA256 of "timestamp.body" with the channel's secret);
// receivers check them with Verify. docs/webhooks.md describes the
// payload and the verification for people writing receivers.
//
// Store is what the dispatcher asks of the cloud store; Channels and
// Preferences are what the dashboard and the REST API ask of it to manage
// the channels and each user's preferences.
package notify
