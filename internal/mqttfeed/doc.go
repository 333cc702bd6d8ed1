// Package mqttfeed publishes the Command Center's local truth to the
// customer's own MQTT broker (R-PEER-6), so that an MES reads the fleet
// without the cloud: each printer's current state (retained), its events
// and its job changes, as JSON, with QoS 1, and a birth and last-will
// message for the Command Center itself. docs/mqtt.md describes the topic
// tree and the payloads.
//
// The feed reads the site's store (Source) on its own schedule and never
// writes to it: polling and the uplink neither wait for it nor notice a
// broker that is down. Between the store and the broker stands a bounded
// queue: the latest state of each printer (never lost, only superseded)
// and up to Options.QueueLimit events and job changes, the oldest dropped
// and counted beyond that. A message leaves the queue only when the broker
// acknowledged it (PUBACK), so a broker restart loses none of what the
// queue holds; a message may arrive twice (at least once, QoS 1).
//
// A broker that is down or refuses the credentials is retried with
// backoff; State says so for the local UI.
//
// Job, user, part and computer names stay in the LAN as on the local UI;
// with Options.AllowList every payload is built by the uplink's privacy
// allow-list instead, as if it left the site.
package mqttfeed
