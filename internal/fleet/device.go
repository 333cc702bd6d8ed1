package fleet

import (
	"errors"
	"fmt"
	"time"
)

// This file holds the device data of R-DATA-4..12 in the form that may
// leave the site. Names, geometry and people are absent by construction:
// the device API carries them beside these types (deviceapi.JobPrivate,
// deviceapi.PartPrivate) and the privacy package drops them.

// Vec3 is a point or a size in millimetres.
type Vec3 struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
}

// Box is an axis-aligned box in the build volume, in millimetres: where a
// part sits (R-DATA-5) or the extent of a job (R-DATA-4).
type Box struct {
	Min Vec3 `json:"min"`
	Max Vec3 `json:"max"`
}

// Size returns the box's edge lengths.
func (b Box) Size() Vec3 { return Vec3{b.Max.X - b.Min.X, b.Max.Y - b.Min.Y, b.Max.Z - b.Min.Z} }

// VolumeMM3 returns the box's volume in cubic millimetres.
func (b Box) VolumeMM3() float64 { s := b.Size(); return s.X * s.Y * s.Z }

// Validate reports whether the box is well-formed (min <= max).
func (b Box) Validate() error {
	if b.Min.X > b.Max.X || b.Min.Y > b.Max.Y || b.Min.Z > b.Max.Z {
		return fmt.Errorf("box %v: min exceeds max", b)
	}
	return nil
}

// JobStatus is where a job is in its life cycle (R-DATA-4 completion status).
type JobStatus string

// The job statuses.
const (
	JobQueued    JobStatus = "queued"
	JobPrinting  JobStatus = "printing"
	JobCooling   JobStatus = "cooling"   // build unit removed, cooling down
	JobCompleted JobStatus = "completed" // unpacked
	JobFailed    JobStatus = "failed"
	JobCancelled JobStatus = "cancelled"
)

// Valid reports whether s is a known job status.
func (s JobStatus) Valid() bool {
	switch s {
	case JobQueued, JobPrinting, JobCooling, JobCompleted, JobFailed, JobCancelled:
		return true
	}
	return false
}

// Job is a print job (R-DATA-4). ID is random and never derived from a
// name. A job is reported again whenever it changes; the newest report wins.
type Job struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"` // printing finished
	// SourceApp is the preparing application, e.g. "Build Manager 5.1".
	SourceApp string `json:"source_app"`
	// SourceHostID identifies the submitting computer by a random ID that
	// is stable per computer and site but says nothing of its name (R-PRIV-2).
	SourceHostID     string   `json:"source_host_id"`
	BoundingBox      Box      `json:"bounding_box"`
	VolumeCM3        float64  `json:"volume_cm3"`  // parts' volume
	SurfaceCM2       float64  `json:"surface_cm2"` // parts' surface
	Density          float64  `json:"density"`     // packing density: parts volume / build volume, 0..1
	LayerCount       int      `json:"layer_count"` // layers planned
	LayerThicknessMM float64  `json:"layer_thickness_mm"`
	Material         string   `json:"material"`       // e.g. "PA12"
	PartMaterials    []string `json:"part_materials"` // materials used in parts
	RecyclableKG     float64  `json:"recyclable_kg"`  // unfused powder recoverable after the job
	// RecycledShare is the share of recycled powder in the build, 0..1
	// (zero until printing starts).
	RecycledShare float64      `json:"recycled_share,omitempty"`
	PrintMode     string       `json:"print_mode"`    // fast, balanced, robust
	ParameterSet  string       `json:"parameter_set"` // print-parameter set in effect
	BuildUnitID   string       `json:"build_unit_id"` // serial number of the build unit
	Status        JobStatus    `json:"status"`
	LayersDone    int          `json:"layers_done"`
	PartCount     int          `json:"part_count"`
	Warnings      []JobWarning `json:"warnings"`
	SubJobs       []SubJob     `json:"sub_jobs"`
}

// JobWarning is a warning raised during a job (R-DATA-4).
type JobWarning struct {
	ID       string    `json:"id"`
	Message  string    `json:"message"`
	Severity Severity  `json:"severity"`
	Time     time.Time `json:"time"`
}

// SubJob is a phase of a job (R-DATA-4): preparation, printing, cooling, unpacking.
type SubJob struct {
	Kind              string    `json:"kind"`
	Status            string    `json:"status"` // pending, running, done, failed
	CompletionPercent float64   `json:"completion_percent"`
	DurationSec       float64   `json:"duration_seconds"`
	Start             time.Time `json:"start,omitzero"`
	End               time.Time `json:"end,omitzero"`
}

// Validate reports whether the job is well-formed.
func (j Job) Validate() error {
	var errs []error
	if err := validID("job", j.ID); err != nil {
		errs = append(errs, err)
	}
	if !j.Status.Valid() {
		errs = append(errs, fmt.Errorf("job %s: unknown status %q", j.ID, j.Status))
	}
	if j.CreatedAt.IsZero() {
		errs = append(errs, fmt.Errorf("job %s: zero creation time", j.ID))
	}
	if j.Density < 0 || j.Density > 1 {
		errs = append(errs, fmt.Errorf("job %s: density %v outside 0..1", j.ID, j.Density))
	}
	if !(j.RecycledShare >= 0 && j.RecycledShare <= 1) {
		errs = append(errs, fmt.Errorf("job %s: recycled share %v outside 0..1", j.ID, j.RecycledShare))
	}
	if j.LayerCount < 0 || j.LayersDone < 0 || j.LayersDone > j.LayerCount || j.PartCount < 0 {
		errs = append(errs, fmt.Errorf("job %s: inconsistent counts", j.ID))
	}
	if err := j.BoundingBox.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("job %s: %w", j.ID, err))
	}
	return errors.Join(errs...)
}

// PartOutcome is a part's quality result (R-DATA-5 completion details).
type PartOutcome string

// The part outcomes. Pending until the part is unpacked and inspected.
const (
	PartPending     PartOutcome = "pending"
	PartPass        PartOutcome = "pass"
	PartDimensional PartOutcome = "dimensional"
	PartPorosity    PartOutcome = "porosity"
	PartWarp        PartOutcome = "warp"
	PartNotPrinted  PartOutcome = "not_printed"
)

// Part is one part of a job (R-DATA-5). ID is random.
type Part struct {
	ID              string      `json:"id"`
	JobID           string      `json:"job_id"`
	CreatedAt       time.Time   `json:"created_at"`
	ProcessingStart time.Time   `json:"processing_start,omitzero"`
	ProcessingEnd   time.Time   `json:"processing_end,omitzero"`
	PrintStart      time.Time   `json:"print_start,omitzero"`
	PrintEnd        time.Time   `json:"print_end,omitzero"`
	BoundingBox     Box         `json:"bounding_box"` // where the part sits in the build volume
	VolumeCM3       float64     `json:"volume_cm3"`
	SurfaceCM2      float64     `json:"surface_cm2"`
	MaterialG       float64     `json:"material_g"` // material used
	Outcome         PartOutcome `json:"outcome"`
	// CompletionDetails says in words how the part came out, without names.
	CompletionDetails string `json:"completion_details"`
}

// Validate reports whether the part is well-formed.
func (p Part) Validate() error {
	var errs []error
	if err := validID("part", p.ID); err != nil {
		errs = append(errs, err)
	}
	if err := validID("job", p.JobID); err != nil {
		errs = append(errs, fmt.Errorf("part %s: %w", p.ID, err))
	}
	if p.VolumeCM3 < 0 || p.SurfaceCM2 < 0 || p.MaterialG < 0 {
		errs = append(errs, fmt.Errorf("part %s: negative volume, surface or material", p.ID))
	}
	if err := p.BoundingBox.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("part %s: %w", p.ID, err))
	}
	switch p.Outcome {
	case PartPending, PartPass, PartDimensional, PartPorosity, PartWarp, PartNotPrinted:
	default:
		errs = append(errs, fmt.Errorf("part %s: unknown outcome %q", p.ID, p.Outcome))
	}
	return errors.Join(errs...)
}

// Layer is one printed layer of a job (R-DATA-6).
type Layer struct {
	// Seq is the printer's sequence number of the layer record.
	Seq   uint64 `json:"seq"`
	JobID string `json:"job_id"`
	Index int    `json:"index"` // 1-based
	// SizeMM2 is the fused area of the layer.
	SizeMM2     float64   `json:"size_mm2"`
	DurationSec float64   `json:"duration_seconds"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
}

// Validate reports whether the layer is well-formed.
func (l Layer) Validate() error {
	if err := validID("job", l.JobID); err != nil {
		return fmt.Errorf("layer %d: %w", l.Index, err)
	}
	if l.Index < 1 || l.SizeMM2 < 0 || l.DurationSec < 0 || l.End.Before(l.Start) || l.Start.IsZero() {
		return fmt.Errorf("layer %d of job %s: inconsistent index, size or times", l.Index, l.JobID)
	}
	return nil
}

// Counters are a printer's lifetime usage counters (R-DATA-7).
type Counters struct {
	TotalJobs           int64              `json:"total_jobs"`
	CompletedJobs       int64              `json:"completed_jobs"`
	Layers              int64              `json:"layers"`
	Parts               int64              `json:"parts"`
	PrintVolumeCM3      float64            `json:"print_volume_cm3"`
	PrintTimeSec        float64            `json:"print_time_seconds"`
	AgentsConsumedML    map[string]float64 `json:"agents_consumed_ml"` // per agent type
	MaterialConsumedKG  float64            `json:"material_consumed_kg"`
	CoolingSystemHours  float64            `json:"cooling_system_hours"`
	FilterStatusPercent float64            `json:"filter_status_percent"` // remaining filter life
	LampUsageHours      float64            `json:"lamp_usage_hours"`
	IntermediateTanks   int64              `json:"intermediate_tanks_used"`
	AgentSystemHours    float64            `json:"agent_system_hours"`
	ServiceStationUses  int64              `json:"service_station_uses"`
	CarriageCycles      int64              `json:"carriage_cycles"`
	SystemErrors        int64              `json:"system_errors"`
	Time                time.Time          `json:"time"`
}

// CleaningRoll is the printhead cleaning roll (R-DATA-8).
type CleaningRoll struct {
	PartNumber   string  `json:"part_number"`
	Status       string  `json:"status"` // ok, low, empty
	UsagePercent float64 `json:"usage_percent"`
}

// AgentSupply is the agent system's state for one agent type (R-DATA-9).
type AgentSupply struct {
	Agent              string  `json:"agent"` // fusing, detailing, cyan, magenta, yellow, black
	UsedCC             float64 `json:"used_cc"`
	BuildUnitInserts   int64   `json:"build_unit_inserts"`
	SupplyStatus       string  `json:"supply_status"` // ok, low, empty, non-original, expired
	SupplyLevelPercent float64 `json:"supply_level_percent"`
}

// Printhead is one printhead (R-DATA-10). UUID is random.
type Printhead struct {
	Slot             int       `json:"slot"`
	Type             string    `json:"type"`
	UUID             string    `json:"uuid"`
	Status           string    `json:"status"` // ok, degraded, failed, replace
	PartNumber       string    `json:"part_number"`
	SerialNumber     string    `json:"serial_number"`
	AgentUsedCC      float64   `json:"agent_used_cc"`
	InstallDate      time.Time `json:"install_date"`
	UsageHours       float64   `json:"usage_hours"`
	RecoveryLevel    int       `json:"recovery_level"` // recoveries performed since install
	LastErrorCode    string    `json:"last_error_code,omitempty"`
	LastErrorTime    time.Time `json:"last_error_time,omitzero"`
	NonOriginalAgent bool      `json:"non_original_agent"`
	ExpiredAgent     bool      `json:"expired_agent"`
	WarrantyEnd      time.Time `json:"warranty_end"`
	WarrantyStatus   string    `json:"warranty_status"` // in warranty, expired, void
	ManufactureDate  time.Time `json:"manufacture_date"`
}

// BuildUnits is the build unit state (R-DATA-11).
type BuildUnits struct {
	TotalInserts int64      `json:"total_inserts"`
	Installed    *BuildUnit `json:"installed,omitempty"` // nil when none is inserted
}

// BuildUnit is the installed build unit (R-DATA-11).
type BuildUnit struct {
	PartNumber          string             `json:"part_number"`
	SerialNumber        string             `json:"serial_number"`
	Inserts             int64              `json:"inserts"`
	Status              string             `json:"status"` // ready, printing, cooling, empty
	UsageHours          float64            `json:"usage_hours"`
	Material            string             `json:"material"`
	RecycledPercent     float64            `json:"recycled_percent"`
	MaterialKG          float64            `json:"material_kg"`
	NonOriginalMaterial bool               `json:"non_original_material"`
	ExpiredMaterial     bool               `json:"expired_material"`
	Printers            []BuildUnitPrinter `json:"printers"` // printers used with it
}

// BuildUnitPrinter is a printer a build unit was used with (R-DATA-11).
type BuildUnitPrinter struct {
	ProductNumber string    `json:"product_number"`
	SerialNumber  string    `json:"serial_number"`
	Firmware      string    `json:"firmware"`
	Connected     time.Time `json:"connected"`
	Disconnected  time.Time `json:"disconnected,omitzero"`
}

// Consumables is a snapshot of everything that wears or runs out:
// R-DATA-8..11 plus lamps, filters and powder.
type Consumables struct {
	CleaningRoll CleaningRoll  `json:"cleaning_roll"`
	Agents       []AgentSupply `json:"agents"`
	Printheads   []Printhead   `json:"printheads"`
	BuildUnits   BuildUnits    `json:"build_units"`
	Lamps        []Lamp        `json:"lamps"`
	Time         time.Time     `json:"time"`
}

// Lamp is a fusing or warming lamp.
type Lamp struct {
	Position         string  `json:"position"` // fusing-1, fusing-2, warming
	Hours            float64 `json:"hours"`
	IntensityPercent float64 `json:"intensity_percent"` // of a new lamp's output
	Status           string  `json:"status"`            // ok, weak, failed
}

// LogKind names a device log (R-DATA-12).
type LogKind string

// The device logs. The session log carries no customer part information.
const (
	LogSession        LogKind = "session"
	LogPrinthead      LogKind = "printhead"
	LogLampControl    LogKind = "lamp-control"
	LogCoolingServo   LogKind = "cooling-servo"
	LogBuildModule    LogKind = "build-module"
	LogStateMachine   LogKind = "state-machine"
	LogTrolleyHeating LogKind = "trolley-heating"
	LogFrontPanel     LogKind = "front-panel"
	LogSensors        LogKind = "sensors"
	LogMemory         LogKind = "memory"
)

// LogKinds lists every device log, in a stable order.
func LogKinds() []LogKind {
	return []LogKind{LogSession, LogPrinthead, LogLampControl, LogCoolingServo, LogBuildModule,
		LogStateMachine, LogTrolleyHeating, LogFrontPanel, LogSensors, LogMemory}
}

// Valid reports whether k is a known log.
func (k LogKind) Valid() bool {
	for _, l := range LogKinds() {
		if k == l {
			return true
		}
	}
	return false
}

// LogLine is one plain-text line of a device log (R-DATA-12).
type LogLine struct {
	Seq  uint64    `json:"seq"` // per log, increasing
	Log  LogKind   `json:"log"`
	Time time.Time `json:"time"`
	Text string    `json:"text"`
}

// validID checks a random identifier: 1 to 64 letters, digits, '-' or '_'.
func validID(what, id string) error {
	if len(id) == 0 || len(id) > 64 {
		return fmt.Errorf("%s id %q: want 1 to 64 characters", what, id)
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("%s id %q: only letters, digits, '-' and '_' allowed", what, id)
		}
	}
	return nil
}
