// Package soak judges a long run of the whole system on an accelerated
// clock: it samples the process (memory, goroutines, open files), the
// disk of each data directory and the rows of each table as simulated
// days pass, classifies every warning and error the run logged, and gives
// a verdict — memory and goroutines flat, disk and rows as retention
// predicts, no log line without an explanation. Report writes the figures
// and plots of them.
package soak
