// Package localui is the Command Center's local UI and JSON API (R-ARCH-6):
// pages for the printers, jobs, consumables, alerts, the upload log ("what
// was sent", R-PRIV-5), the self-test and the update policy, the same data
// as JSON under /api/ (described by the embedded openapi.json), Prometheus
// metrics and /healthz. It shows private names and is meant for the site:
// serve it on loopback or the site's LAN only.
//
// It reads the Command Center's store through the small interfaces of
// Sources, declared here by what each page needs.
package localui
