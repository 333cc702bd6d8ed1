// Package learn turns anonymous job outcomes, aggregated across
// organisations, into proposals for better default print-parameter sets
// (R-FEAT-8).
//
// The pipeline is pure computation over what the cloud stores:
//
//   - Anonymise (table.go) derives an identity-free training table from
//     job and part records: no organisation, site, printer, job or part
//     identity enters it, only the process conditions of each build, the
//     printer's printhead condition when it started (heads.go: mean usage
//     hours and share of printheads not ok, from the newest consumables
//     snapshot at most MaxHeadAge before; unknown is imputed as new
//     printheads with a flag term, and counted), and where each part sat
//     in it. Builds are grouped in cohorts by printer
//     model, material, print mode and layer thickness; a cohort seen at
//     fewer than kpi.MinCohort organisations, or one where a single
//     organisation holds more than half the builds, is dropped (R-PRIV-4).
//     Records that are incomplete or contradict themselves are excluded,
//     each with a counted reason.
//   - Fit (model.go) fits a logistic model of a part failing inspection,
//     on a fixed basis of the conditions (piecewise-linear in recycled
//     share and packing density, quadratic in layer thickness per
//     material, linear in printhead hours and share not ok), and scores it on held-out builds (R², MAE, log loss).
//   - Propose (propose.go) searches the parameters a set can change for
//     each model and material, predicts the defective share under each,
//     and bootstraps the fit for the gain's uncertainty. It says when the
//     data are too few rather than guess.
//   - Trainer (trainer.go) retrains on a schedule and promotes a new model
//     only if it scores no worse than the one in service on the same
//     held-out builds.
//
// What organisations read of the loop is coarse (publish.go): counts to
// two significant digits, shares to whole percentage points, so that two
// trainings cannot be subtracted to one organisation's numbers.
//
// Proposals are never shipped by this package: they are the whole
// fleet's, an organisation's administrator approves one for that
// organisation, which adopts the set, and the approved set goes through
// the signed-release flow.
package learn
