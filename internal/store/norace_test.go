//go:build !race

package store

// jobsPerYear is how many jobs each printer of the index test's synthetic
// fleet ran in its year (see race_test.go).
const jobsPerYear = 20
