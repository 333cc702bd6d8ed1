//go:build race

package store

// The race detector slows SQLite's engine some thirty times: the synthetic
// fleet of the index test then gets a job a quarter instead of one every
// 18 days, still spanning a year.
const jobsPerYear = 4
