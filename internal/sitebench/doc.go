// Package sitebench measures a whole site against a whole cloud: virtual
// printers, a real Command Center (internal/site) and a real cloud node
// (internal/cloud) on loopback, with real TLS. Freshness measures how long
// a printer's change of state takes to reach the dashboard's live stream;
// UplinkBytes counts the uplink's bytes on the socket. The go test
// benchmarks of internal/site and the bench command run them.
package sitebench
