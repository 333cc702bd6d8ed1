// Package retention says how long the cloud keeps each kind of fleet data
// (Retention) and runs a store's pruning in the background (Run).
//
// Layers and logs are bulky and kept shortest; events a year; jobs and
// parts, the raw material of KPIs, five years; counter and consumable
// histories two years. The stores also prune their idempotency record of
// received (gateway, seq) pairs, but never below MinReceived: a record must
// stay known for as long as any party could still deliver it again.
package retention
