// Package kpi defines the fleet's key performance indicators (R-FEAT-2),
// the anonymous benchmark against other organisations (R-FEAT-3) and the
// usage patterns for planning (R-FEAT-4), as pure computations over job and
// part reports. It holds no SQL: the stores keep daily rollups built with
// Rollup and read them back as Sums; Reader (with CohortReader, what
// Benchmark reads) is what the dashboard and the REST API read of them.
//
// # Days and attribution
//
// Days are UTC days. A job counts, with its parts, on the day printing
// finished (FinishedAt), or on the day it was created when it never
// finished. Printing and cooling time count in the hours in which they
// happened, from the job's printing and cooling phases (SubJobs), a phase
// still running up to the time of the report. Nothing of a job counts
// beyond MaxSpan after its creation, so that a store can rebuild any day
// from the jobs created in the MaxSpan before it: a job reported several
// times counts once, because the stores recompute the affected days from
// the stored jobs instead of adding deltas.
//
// # Definitions
//
// Definitions lists every KPI with its unit and a one-sentence definition.
// Material recycling is the share of the powder of finished jobs that was
// recovered as recyclable (Job.RecyclableKG) rather than fused into parts
// (Part.MaterialG): the reports carry no weighed powder input per job, and
// the build unit's recycled share (a snapshot of the unit, not of a job)
// cannot be attributed to jobs.
//
// # Benchmark protection
//
// A benchmark compares an organisation with the other organisations that
// use the same printer model, as percentile bands (p10, p25, p50, p75,
// p90). The cohort side is built so that no organisation's identity or
// settings can be inferred:
//
//   - The cohort is chosen by printer model and a fixed period only: the
//     last 1, 3 or 12 complete UTC calendar months. There are no site,
//     printer, material or date filters on the cohort side, so a caller
//     cannot narrow a cohort down to one organisation.
//   - The caller's own organisation is never part of its cohort, and no
//     band is computed from fewer than MinCohort other organisations;
//     below that the answer says only that the cohort is too small.
//   - Because periods are complete months, the bands do not move while a
//     month runs: an attacker who compares the bands before and after a
//     victim starts or changes production sees no difference until the
//     month closes, and then the bands move with every organisation's
//     month at once.
//   - Each band value is the mean of the Window (3) members around the
//     percentile's rank, rounded to a coarse grid (Grid). Interpolated
//     percentiles of five members were three members' own values and
//     solved for the lowest and the highest: they gave away 99 of 100
//     members within a point. With means of three, any pattern (a, b,
//     −a−b) repeated over the sorted members leaves every band unchanged,
//     so each member's value is undetermined by a third of the smallest
//     gap between two members, and the cohort's extremes are never shown.
//   - Only KPI values leave the cohort: never names, IDs, sizes per
//     organisation, counts of printers, parameter sets, print modes or
//     materials. Jobs and parts per day are compared per printer, so that
//     the bands do not reveal how large the other fleets are.
//   - The stores return cohort members without identities, in an order of
//     their values, and never the caller's own organisation.
//
// The caller's own side ("you") is limited to the sites the caller may
// see, like every other read.
//
// What remains: once a month closes, bands computed from few organisations
// still move with each of them. The minimum size, the windows and the
// coarse grid keep that movement from singling out a member's value; they
// do not make it zero, and an attacker who knew every other member's
// values exactly (by controlling those organisations) could solve a
// window for the last one. Whether at least MinCohort organisations use a
// model is visible by design.
package kpi
