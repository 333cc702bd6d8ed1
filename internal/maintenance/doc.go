// Package maintenance predicts when wearing printer components fail, from
// the uplinked history the cloud holds and nothing else: consumables
// snapshots (printhead serials and usage hours, lamp hours and
// intensity), usage counters and events (warnings, failures,
// replacements).
//
// A Tracker turns records into component instances: when each was
// installed, how many usage hours it has run, whether it ended in a
// failure or was replaced while still working (right-censored), and the
// degradation signals seen on the way. Fit learns a Weibull life model per
// component kind from those instances by maximum likelihood with
// right-censoring; with too few failures it says so and the forecast falls
// back to the rated life. Forecasts gives every installed component a
// remaining life with an 80 % band, a replacement date from the printer's
// recent usage rate and the probability of failing within a horizon.
// Records that contradict each other (usage or counters going back, a
// failure that cannot be told apart from another) are excluded and
// counted by reason.
package maintenance
