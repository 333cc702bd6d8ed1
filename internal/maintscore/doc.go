// Package maintscore scores the maintenance forecasts against the virtual
// printers' hidden truth. It simulates a training fleet, learns the life
// models from the records the cloud would store of it, then simulates a
// fleet on other seeds and, at regular checkpoints, compares each installed
// component's forecast ("fails within the horizon") with when it really
// failed — next to the baseline of replacing at the rated life and the
// same model without covariates. A fifth of each fleet's printers run on
// non-original agent and some on expired agent for part of the period
// (drawn from the seed), which wears their printheads faster.
//
// The printers run in-process on a manual clock for speed; the records fed
// to the forecasts are those a Command Center would read from the device
// API (events, counters, consumables) and upload.
package maintscore
