package privacy

import (
	"reflect"
	"slices"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The description of the allow-list, for people: what leaves the site,
// field by field, and what never does. The published privacy page is
// generated from it, and the package's tests fail when a record that
// leaves the site has a field not described here, or a private device
// field is missing from NotCollected, so the page cannot fall behind the
// code.

// FieldDoc describes one field of a type.
type FieldDoc struct {
	Field string // the Go field name
	Doc   string // one sentence
}

// TypeDoc describes a type and each of its fields.
type TypeDoc struct {
	Type   reflect.Type
	Doc    string
	Fields []FieldDoc
}

// Collected describes every record that leaves the site and every field
// of it, nested types included: the records first, in the order of this
// package's functions, then the types they contain.
func Collected() []TypeDoc {
	return copyDocs(collected)
}

// NotCollected describes the private fields of the device API, which the
// printer serves to the Command Center but which never leave the site.
func NotCollected() []TypeDoc {
	return copyDocs(notCollected)
}

// copyDocs copies ds, so a caller cannot change the package's tables.
func copyDocs(ds []TypeDoc) []TypeDoc {
	out := slices.Clone(ds)
	for i := range out {
		out[i].Fields = slices.Clone(out[i].Fields)
	}
	return out
}

// f makes a FieldDoc.
func f(field, doc string) FieldDoc { return FieldDoc{Field: field, Doc: doc} }

var collected = []TypeDoc{
	{reflect.TypeFor[fleet.Identity](), "The printer's identity (R-DATA-1).", []FieldDoc{
		f("PrinterID", "The printer's ID in the fleet."),
		f("Name", "The printer's own name, as set at the printer (not a job, user or computer name)."),
		f("Model", "The printer model."),
		f("ModelNumber", "The model's product number."),
		f("SerialNumber", "The printer's serial number."),
		f("Firmware", "The firmware version."),
		f("ParameterSet", "The print-parameter set in effect for new jobs."),
		f("Size", "The build volume."),
		f("DiskBytes", "The printer's disk size."),
		f("MemoryBytes", "The printer's memory size."),
		f("Date", "The printer's clock when it answered."),
		f("UptimeSec", "Seconds since the printer started."),
	}},
	{reflect.TypeFor[fleet.Status](), "The heartbeat (R-DATA-2): state and progress, never the job's names.", []FieldDoc{
		f("PrinterID", "The printer's ID in the fleet."),
		f("State", "The printer's state: idle, printing, cooling or error."),
		f("Activity", "The printer's activity in words; a private name the printer wrote into it is replaced by [private]."),
		f("JobID", "The random ID of the current job; it is never derived from names."),
		f("Progress", "Progress of the current job, 0 to 1."),
		f("ETCSeconds", "Estimated seconds until the current phase ends."),
		f("PendingJobs", "How many jobs wait in the printer's queue."),
		f("Time", "When the printer reported this state."),
	}},
	{reflect.TypeFor[fleet.Event](), "An event or alert of the printer (R-DATA-3).", []FieldDoc{
		f("Seq", "The printer's sequence number of the event."),
		f("Code", "The event code."),
		f("Description", "The printer's description of the event; private names of the site are replaced by [private]."),
		f("Severity", "Info, warning, error or critical."),
		f("Time", "When it happened."),
		f("Firmware", "The firmware version that raised it."),
		f("Subsystem", "The subsystem concerned (printhead, lamp, …)."),
		f("Details", "The printer's debugging details; private names of the site are replaced by [private]."),
	}},
	{reflect.TypeFor[fleet.Job](), "A print job's process data (R-DATA-4), without its name, user or computer.", []FieldDoc{
		f("ID", "The job's random ID."),
		f("CreatedAt", "When the job was submitted."),
		f("StartedAt", "When printing started."),
		f("FinishedAt", "When printing finished."),
		f("SourceApp", "The preparing application and its version; a private name written into it is replaced by [private]."),
		f("SourceHostID", "A pseudonym of the submitting computer: a keyed hash under a secret kept on the site, so the name can be neither recovered nor confirmed in the cloud."),
		f("BoundingBox", "The box the parts fill in the build volume, in millimetres."),
		f("VolumeCM3", "The parts' total volume."),
		f("SurfaceCM2", "The parts' total surface."),
		f("Density", "The packing density: parts' volume over build volume."),
		f("LayerCount", "The layers planned."),
		f("LayerThicknessMM", "The layer thickness."),
		f("Material", "The build material, e.g. PA12."),
		f("PartMaterials", "The materials used in parts."),
		f("RecyclableKG", "Unfused powder recoverable after the job."),
		f("RecycledShare", "The share of recycled powder in the build (zero until printing starts)."),
		f("PrintMode", "The print mode: fast, balanced or robust."),
		f("ParameterSet", "The print-parameter set the job uses."),
		f("BuildUnitID", "The serial number of the build unit."),
		f("Status", "Queued, printing, cooling, completed, failed or cancelled."),
		f("LayersDone", "The layers printed so far."),
		f("PartCount", "How many parts the job holds."),
		f("Warnings", "Warnings raised during the job."),
		f("SubJobs", "The job's phases: preparation, printing, cooling, unpacking."),
	}},
	{reflect.TypeFor[fleet.Part](), "A part of a job (R-DATA-5): sizes and outcome, without its name or geometry.", []FieldDoc{
		f("ID", "The part's random ID."),
		f("JobID", "The random ID of its job."),
		f("CreatedAt", "When the part was added to the job."),
		f("ProcessingStart", "When its preparation started."),
		f("ProcessingEnd", "When its preparation ended."),
		f("PrintStart", "When its printing started."),
		f("PrintEnd", "When its printing ended."),
		f("BoundingBox", "Where the part sits in the build volume: a box, not its shape."),
		f("VolumeCM3", "The part's volume."),
		f("SurfaceCM2", "The part's surface."),
		f("MaterialG", "The material it used."),
		f("Outcome", "How it came out: pass, or the kind of defect."),
		f("CompletionDetails", "The outcome in words; the part's name, should the printer write it there, is replaced by [private]."),
	}},
	{reflect.TypeFor[fleet.Layer](), "One printed layer of a job (R-DATA-6).", []FieldDoc{
		f("Seq", "The printer's sequence number of the layer record."),
		f("JobID", "The random ID of its job."),
		f("Index", "The layer's number in the job."),
		f("SizeMM2", "The fused area of the layer: a number, not its outline."),
		f("DurationSec", "How long the layer took."),
		f("Start", "When the layer started."),
		f("End", "When the layer ended."),
	}},
	{reflect.TypeFor[fleet.Counters](), "Lifetime usage counters of the printer (R-DATA-7).", []FieldDoc{
		f("TotalJobs", "Jobs started."),
		f("CompletedJobs", "Jobs completed."),
		f("Layers", "Layers printed."),
		f("Parts", "Parts printed."),
		f("PrintVolumeCM3", "Volume printed."),
		f("PrintTimeSec", "Time spent printing."),
		f("AgentsConsumedML", "Agent consumed, per agent type."),
		f("MaterialConsumedKG", "Build material consumed."),
		f("CoolingSystemHours", "Hours of the cooling system."),
		f("FilterStatusPercent", "Remaining filter life."),
		f("LampUsageHours", "Hours of the lamps."),
		f("IntermediateTanks", "Intermediate tanks used."),
		f("AgentSystemHours", "Hours of the agent system."),
		f("ServiceStationUses", "Uses of the service station."),
		f("CarriageCycles", "Carriage cycles."),
		f("SystemErrors", "System errors."),
		f("Time", "When the counters were read."),
	}},
	{reflect.TypeFor[fleet.Consumables](), "Everything that wears or runs out (R-DATA-8..11, lamps).", []FieldDoc{
		f("CleaningRoll", "The printhead cleaning roll."),
		f("Agents", "The agent supplies."),
		f("Printheads", "The printheads."),
		f("BuildUnits", "The build units."),
		f("Lamps", "The fusing and warming lamps."),
		f("Time", "When the snapshot was taken."),
	}},
	{reflect.TypeFor[fleet.LogLine](), "A line of a device log (R-DATA-12), sent only when the log is asked for; by the printer's contract no log carries customer part information.", []FieldDoc{
		f("Seq", "The line's sequence number in its log."),
		f("Log", "Which log."),
		f("Time", "When it was written."),
		f("Text", "The line; private names and file paths of the site are replaced."),
	}},
	{reflect.TypeFor[fleet.JobWarning](), "A warning raised during a job.", []FieldDoc{
		f("ID", "The warning's ID."),
		f("Message", "The printer's message; the job's private names are replaced by [private]."),
		f("Severity", "Info, warning, error or critical."),
		f("Time", "When it was raised."),
	}},
	{reflect.TypeFor[fleet.SubJob](), "A phase of a job.", []FieldDoc{
		f("Kind", "Which phase; the job's private names are replaced by [private]."),
		f("Status", "Pending, running, done or failed."),
		f("CompletionPercent", "How far the phase got."),
		f("DurationSec", "How long it took."),
		f("Start", "When it started."),
		f("End", "When it ended."),
	}},
	{reflect.TypeFor[fleet.Box](), "An axis-aligned box in the build volume, in millimetres.", []FieldDoc{
		f("Min", "The corner nearest the origin."),
		f("Max", "The opposite corner."),
	}},
	{reflect.TypeFor[fleet.Vec3](), "A point in millimetres.", []FieldDoc{
		f("X", "X coordinate."),
		f("Y", "Y coordinate."),
		f("Z", "Z coordinate."),
	}},
	{reflect.TypeFor[fleet.CleaningRoll](), "The printhead cleaning roll (R-DATA-8).", []FieldDoc{
		f("PartNumber", "Its part number."),
		f("Status", "Ok, low or empty."),
		f("UsagePercent", "How much of it is used."),
	}},
	{reflect.TypeFor[fleet.AgentSupply](), "The supply of one agent (R-DATA-9).", []FieldDoc{
		f("Agent", "The agent: fusing, detailing or a colour."),
		f("UsedCC", "Agent used."),
		f("BuildUnitInserts", "Build unit inserts with this supply."),
		f("SupplyStatus", "Ok, low, empty, non-original or expired."),
		f("SupplyLevelPercent", "The supply's level."),
	}},
	{reflect.TypeFor[fleet.Printhead](), "One printhead (R-DATA-10).", []FieldDoc{
		f("Slot", "Its slot in the carriage."),
		f("Type", "The printhead type."),
		f("UUID", "The printhead's random ID."),
		f("Status", "Ok, degraded, failed or replace."),
		f("PartNumber", "Its part number."),
		f("SerialNumber", "Its serial number."),
		f("AgentUsedCC", "Agent it has fired."),
		f("InstallDate", "When it was installed."),
		f("UsageHours", "Hours in use."),
		f("RecoveryLevel", "Recoveries since installation."),
		f("LastErrorCode", "Its last error code."),
		f("LastErrorTime", "When its last error happened."),
		f("NonOriginalAgent", "Whether it has fired non-original agent."),
		f("ExpiredAgent", "Whether it has fired expired agent."),
		f("WarrantyEnd", "When its warranty ends."),
		f("WarrantyStatus", "In warranty, expired or void."),
		f("ManufactureDate", "When it was made."),
	}},
	{reflect.TypeFor[fleet.BuildUnits](), "The build units (R-DATA-11).", []FieldDoc{
		f("TotalInserts", "Build unit inserts over the printer's life."),
		f("Installed", "The build unit inserted now, if any."),
	}},
	{reflect.TypeFor[fleet.BuildUnit](), "A build unit (R-DATA-11).", []FieldDoc{
		f("PartNumber", "Its part number."),
		f("SerialNumber", "Its serial number."),
		f("Inserts", "How often it was inserted."),
		f("Status", "Ready, printing, cooling or empty."),
		f("UsageHours", "Hours in use."),
		f("Material", "The material it holds."),
		f("RecycledPercent", "The share of recycled powder."),
		f("MaterialKG", "The material it holds, by weight."),
		f("NonOriginalMaterial", "Whether it holds non-original material."),
		f("ExpiredMaterial", "Whether it holds expired material."),
		f("Printers", "The printers it was used with."),
	}},
	{reflect.TypeFor[fleet.BuildUnitPrinter](), "A printer a build unit was used with (R-DATA-11).", []FieldDoc{
		f("ProductNumber", "The printer's product number."),
		f("SerialNumber", "The printer's serial number."),
		f("Firmware", "Its firmware version."),
		f("Connected", "When the build unit was inserted."),
		f("Disconnected", "When it was taken out."),
	}},
	{reflect.TypeFor[fleet.Lamp](), "A fusing or warming lamp.", []FieldDoc{
		f("Position", "Which lamp."),
		f("Hours", "Hours lit."),
		f("IntensityPercent", "Its output, relative to a new lamp."),
		f("Status", "Ok, weak or failed."),
	}},
}

var notCollected = []TypeDoc{
	{reflect.TypeFor[deviceapi.JobPrivate](), "A job's private names (R-PRIV-2): shown on the site, never sent to the cloud.", []FieldDoc{
		f("Name", "The job's name."),
		f("User", "The user who submitted the job."),
		f("Host", "The computer the job was submitted from; the cloud sees only its keyed pseudonym (source_host_id)."),
	}},
	{reflect.TypeFor[deviceapi.PartPrivate](), "A part's name and geometry (R-PRIV-1, R-PRIV-2): shown on the site, never sent to the cloud.", []FieldDoc{
		f("Name", "The part's name."),
		f("GeometryRef", "The reference to the part's geometry file; the geometry itself is never read."),
	}},
}
