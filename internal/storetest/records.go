package storetest

import (
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// T0 is the time the contract's data is built around.
var T0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Env builds an envelope of a gateway of org and site.
func Env(org fleet.OrgID, site fleet.SiteID, gw fleet.GatewayID, recs ...fleet.Record) fleet.Envelope {
	return fleet.Envelope{OrgID: org, SiteID: site, GatewayID: gw, Records: recs}
}

// IdentityRecord is an identity report of printer p named name.
func IdentityRecord(seq uint64, p fleet.PrinterID, name string, at time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindIdentity, PrinterID: p, Time: at, Identity: &fleet.Identity{
		PrinterID: p, Name: name, Model: "Jet 4200", ModelNumber: "M0P44A", SerialNumber: "SN-" + name, Firmware: "1.0",
		ParameterSet: "PA12-balanced", Size: "380x284x380 mm", DiskBytes: 1 << 40, MemoryBytes: 32 << 30,
		Date: at, UptimeSec: 3600,
	}}
}

// StatusRecord is a status report of printer p in state st.
func StatusRecord(seq uint64, p fleet.PrinterID, st fleet.State, at time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindStatus, PrinterID: p, Time: at, Status: &fleet.Status{
		PrinterID: p, State: st, Activity: st.String(), JobID: "job12345", Progress: 0.5,
		ETCSeconds: 4980, PendingJobs: 2, Time: at,
	}}
}

// EventRecord is an event with code of printer p.
func EventRecord(seq uint64, p fleet.PrinterID, code string, at time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindEvent, PrinterID: p, Time: at, Event: &fleet.Event{
		Seq: seq * 10, Code: code, Description: "d", Severity: fleet.SeverityWarning, Time: at, Firmware: "1.0",
		Subsystem: "lamp", Details: "x",
	}}
}

// GapRecord is a gap in printer p's events feed.
func GapRecord(seq uint64, p fleet.PrinterID, at time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindGap, PrinterID: p, Time: at,
		Gap: &fleet.Gap{Feed: "events", Reason: "restart", FromSeq: 3, ToSeq: 9}}
}

// JobRecord is a report, observed at at, of job id created at created.
func JobRecord(seq uint64, p fleet.PrinterID, id string, status fleet.JobStatus, created, at time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindJob, PrinterID: p, Time: at, Job: &fleet.Job{
		ID: id, CreatedAt: created, StartedAt: created.Add(time.Minute), SourceApp: "Build Manager 5.1",
		SourceHostID: "host-1", BoundingBox: fleet.Box{Max: fleet.Vec3{X: 380, Y: 284, Z: 120}},
		VolumeCM3: 812.5, SurfaceCM2: 4100, Density: 0.12, LayerCount: 1500, LayerThicknessMM: 0.08,
		Material: "PA12", PartMaterials: []string{"PA12"}, RecyclableKG: 9.5, PrintMode: "balanced",
		ParameterSet: "PA12-balanced", BuildUnitID: "BU-1", Status: status, LayersDone: 750, PartCount: 2,
		Warnings: []fleet.JobWarning{{ID: "w1", Message: "lamp weak", Severity: fleet.SeverityWarning, Time: created}},
		SubJobs:  []fleet.SubJob{{Kind: "printing", Status: "running", CompletionPercent: 50, DurationSec: 3600, Start: created}},
	}}
}

// PartRecord is a report of part id of job.
func PartRecord(seq uint64, p fleet.PrinterID, job, id string, outcome fleet.PartOutcome, at time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindPart, PrinterID: p, Time: at, Part: &fleet.Part{
		ID: id, JobID: job, CreatedAt: at, PrintStart: at.Add(time.Minute),
		BoundingBox: fleet.Box{Min: fleet.Vec3{X: 1, Y: 1, Z: 1}, Max: fleet.Vec3{X: 20, Y: 20, Z: 20}},
		VolumeCM3:   6.8, SurfaceCM2: 24, MaterialG: 7.1, Outcome: outcome, CompletionDetails: "ok",
	}}
}

// LayerRecord is layer index of job, ending at end.
func LayerRecord(seq uint64, p fleet.PrinterID, job string, index int, end time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindLayer, PrinterID: p, Time: end, Layer: &fleet.Layer{
		Seq: uint64(index), JobID: job, Index: index, SizeMM2: 1234.5, DurationSec: 9.5,
		Start: end.Add(-9500 * time.Millisecond), End: end,
	}}
}

// CountersRecord is a counters snapshot taken at at.
func CountersRecord(seq uint64, p fleet.PrinterID, jobs int64, at time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindCounters, PrinterID: p, Time: at, Counters: &fleet.Counters{
		TotalJobs: jobs, CompletedJobs: jobs - 1, Layers: jobs * 1500, AgentsConsumedML: map[string]float64{"fusing": 12.5},
		LampUsageHours: 812, Time: at,
	}}
}

// ConsumablesRecord is a consumables snapshot taken at at with the
// cleaning roll used to usage percent.
func ConsumablesRecord(seq uint64, p fleet.PrinterID, usage float64, at time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindConsumables, PrinterID: p, Time: at, Consumables: &fleet.Consumables{
		CleaningRoll: fleet.CleaningRoll{PartNumber: "3ED58A", Status: "ok", UsagePercent: usage},
		Agents:       []fleet.AgentSupply{{Agent: "fusing", UsedCC: 120, SupplyStatus: "ok", SupplyLevelPercent: 80}},
		Printheads: []fleet.Printhead{{Slot: 1, Type: "F9K08A", UUID: "ph-1", Status: "ok", InstallDate: T0,
			WarrantyEnd: T0.AddDate(1, 0, 0), ManufactureDate: T0.AddDate(-1, 0, 0)}},
		BuildUnits: fleet.BuildUnits{TotalInserts: 4, Installed: &fleet.BuildUnit{SerialNumber: "BU-1", Inserts: 4,
			Printers: []fleet.BuildUnitPrinter{{ProductNumber: "M0P44A", SerialNumber: "SN", Connected: T0}}}},
		Lamps: []fleet.Lamp{{Position: "fusing-1", Hours: 812, IntensityPercent: 91, Status: "ok"}},
		Time:  at,
	}}
}

// LogRecord is a line of printer p's log.
func LogRecord(seq uint64, p fleet.PrinterID, log fleet.LogKind, text string, at time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindLog, PrinterID: p, Time: at,
		Log: &fleet.LogLine{Seq: seq, Log: log, Time: at, Text: text}}
}
