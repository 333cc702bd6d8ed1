// Package outboxtest holds sample records for the tests of the outbox and
// of the Command Center parts that fill and drain it: valid records of the
// kinds that travel in each lane, with realistic sizes.
package outboxtest

import (
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Layer is layer i of a job on printer pid, finished at at (bulk lane).
func Layer(pid fleet.PrinterID, i int, at time.Time) fleet.Record {
	return fleet.Record{Kind: fleet.KindLayer, PrinterID: pid, Time: at, Layer: &fleet.Layer{
		Seq: uint64(i), JobID: "j-7f3a9c1e2b4d6f80", Index: i, SizeMM2: 48213.75, DurationSec: 8.9,
		Start: at.Add(-9 * time.Second), End: at}}
}

// Status is a printing status of printer pid at at (status lane).
func Status(pid fleet.PrinterID, at time.Time) fleet.Record {
	return fleet.Record{Kind: fleet.KindStatus, PrinterID: pid, Time: at, Status: &fleet.Status{
		PrinterID: pid, State: fleet.StatePrinting, Activity: "printing layer 812 of 4750",
		JobID: "j-7f3a9c1e2b4d6f80", Progress: 0.17, ETCSeconds: 40210, PendingJobs: 2, Time: at}}
}

// Event is an event of severity sev on printer pid at at (the alert lane
// from warnings on, bulk below).
func Event(pid fleet.PrinterID, sev fleet.Severity, at time.Time) fleet.Record {
	return fleet.Record{Kind: fleet.KindEvent, PrinterID: pid, Time: at, Event: &fleet.Event{
		Seq: 1, Code: "PH_TEMP_HIGH", Description: "printhead temperature above limit", Severity: sev,
		Time: at, Firmware: "5.8.1", Subsystem: "printheads", Details: "slot 3: 61.2 C"}}
}

// Gap is a minimal valid record: a gap of event n of printer-0001 at at
// (status lane).
func Gap(n uint64, at time.Time) fleet.Record {
	return fleet.Record{Kind: fleet.KindGap, PrinterID: "printer-0001", Time: at,
		Gap: &fleet.Gap{Feed: "events", Reason: "test", FromSeq: n, ToSeq: n}}
}

// Seqs returns the sequence numbers of recs.
func Seqs(recs []fleet.Record) []uint64 {
	var s []uint64
	for _, r := range recs {
		s = append(s, r.Seq)
	}
	return s
}
