// Package maintenance predicts when wearing printer components fail, from
// the uplinked history the cloud holds and nothing else: consumables
// snapshots (printhead serials and usage hours, lamp hours and
// intensity), usage counters and events (warnings, failures,
// replacements).
//
// A Tracker turns records into component instances: when each was
// installed, how many usage hours it has run, whether it ended in a
// failure or was replaced while still working (right-censored), and the
// degradation signals seen on the way, and its usage split by the
// covariates it ran under (agent originality and expiry from the
// consumables, material and print mode from the jobs, the usage rate,
// recoveries until it warned). Fit learns a Weibull accelerated-failure-
// time model per component kind from those instances by maximum
// likelihood with right-censoring, each usage hour counting exp(β·x)
// hours; with too few failures it says so and the forecast falls back to
// the rated life, and a covariate with too little data is held at no
// effect. Forecasts gives every installed component a remaining life with
// an 80 % band, a replacement date from the printer's recent usage rate
// and the probability of failing within a horizon. A Book keeps each
// printer's tracker and advances it from a watermark, so a forecast reads
// the newest records, not the whole history.
// Records that contradict each other (usage or counters going back, a
// failure that cannot be told apart from another) are excluded and
// counted by reason.
package maintenance
