package printer

import "time"

// This file is the one table of the process model: every physical or
// statistical constant the simulation uses, with where it comes from.
// Hidden quantities (component lives, the quality model) are drawn from
// these numbers and never leave the printer except through Truth.

// processSpec holds the process constants of one printer class.
type processSpec struct {
	Model       string // as shown in identity, e.g. "FF-4200"
	ModelNumber string
	Class       string     // description
	BuildMM     [3]float64 // build volume x, y, z in mm
	LayerMM     float64    // default layer thickness
	// Layer time range: the time one layer takes (recoat, print, fuse) in
	// balanced mode, largely independent of how full the layer is.
	LayerMin, LayerMax time.Duration
	// Cooling in the build unit after printing: CoolBase for any build plus
	// CoolFullHeight scaled by build height / BuildMM[2] and by packing
	// density relative to densityRef.
	CoolBase, CoolFullHeight time.Duration
	Firmware                 string // default firmware release
	ParameterSet             string // default print-parameter set
	DiskBytes, MemoryBytes   int64
	Printheads               int // printhead slots
}

// material is a powder the printer can print.
type material struct {
	Name string
	// FreshShare is the published refresh ratio: the share of fresh powder
	// in each build for stable part properties.
	FreshShare  float64
	PartGPerCM3 float64 // density of a fused part
	BulkGPerCM3 float64 // bulk density of the powder bed
	Quality     float64 // logit offset of the quality model
	DustFactor  float64 // how fast the material clogs the filter
	WarpProne   float64 // extra weight of warp among its defects
	LayerOptMM  float64 // layer thickness the quality model is best at (hidden)
	PartNumber  string
}

// printMode trades time for quality.
type printMode struct {
	Name       string
	LayerScale float64 // layer time relative to balanced
	Quality    float64 // logit offset of the quality model
	Share      float64 // share of jobs submitted in this mode
}

// agentSpec is one agent of the agent system.
type agentSpec struct {
	Name string
	// Consumption per layer: PerLayerML for every layer (spitting, borders)
	// plus PerCM2ML per cm² of fused area.
	PerLayerML, PerCM2ML float64
	CartridgeML          float64
	PartNumber           string
}

// wearSpec describes a wearing component with a hidden life. The life is
// drawn at installation from a Weibull distribution in usage hours at the
// nominal wear rate; accelerated wear (non-original agent, an injected
// fault) spends it faster. A failure is announced by a warning LeadHours
// (exponentially distributed, in usage hours) before it, except for a
// SilentShare of failures that give no warning.
type wearSpec struct {
	Component    string
	Shape, Scale float64 // Weibull shape and scale in usage hours
	LeadHours    float64 // mean warning lead in usage hours
	SilentShare  float64
	MinorPerHour float64 // base rate of minor symptoms (recoveries, deviations)
	JobFailShare float64 // chance that a failure during printing fails the job
	// PreventAt is the visible condition (percent) at or below which the
	// operator replaces the component before the next job; 0: never.
	PreventAt            float64
	RepairMin, RepairMax time.Duration
	PartNumber           string
}

// qualityModel is the hidden quality model: the logit of a part passing
// inspection, and the weights of the defect kinds when it does not.
type qualityModel struct {
	Base             float64 // logit of passing under reference conditions
	RecycledPerShare float64 // per unit of recycled share above the material's reference
	AgePerCycle      float64 // per reuse cycle of the powder above the reference age
	DensityPerUnit   float64 // per unit of packing density above DensityRef
	DensityRef       float64
	NearWall         float64 // part within WallMM of a side wall
	WallMM           float64
	NearTop          float64 // part within TopMM of the top of the build
	TopMM            float64
	HeadHealth       float64 // per unit of lost (hidden) printhead health
	LampIntensity    float64 // per unit of lost lamp intensity
	NonOriginal      float64 // non-original powder
	Expired          float64 // expired powder
	// LayerCurv weighs the squared distance of the layer thickness (mm)
	// from the material's optimum, counted from the model's default
	// thickness so that printing at the default costs nothing.
	LayerCurv float64
}

// processData is the table.
type processData struct {
	Models    []processSpec
	Materials []material
	Modes     []printMode
	Agents    []agentSpec
	Wear      []wearSpec
	Quality   qualityModel
	Faults    []faultKind
}

// processTable returns the one table of process constants. It is a
// function so the table cannot be modified.
//
// Sources (public):
//   - Build volume 380 x 284 x 380 mm, layer thickness 0.08 mm (so a
//     full-height build is about 4,750 layers), build speeds of roughly
//     7-10 s per layer, the 5200 class somewhat faster: the technical data
//     sheets of the 4200- and 5200-class multi-jet powder-bed fusion printers.
//   - Cooling: the vendor's guidance that a build unit cools for several
//     hours up to about as long as the print, longer for tall and densely
//     packed builds (natural cooling).
//   - Refresh ratios: PA12 20 % fresh / 80 % recycled ("stable performance
//     at 80 % surplus powder reusability"), PA11 30 %, PA12 glass beads 30 %,
//     TPU 20 %, PP 0-10 %: the material data sheets; densities from the same
//     sheets (parts 1.01 / 1.05 / 1.30 / 1.10 / 0.89 g/cm³, bed about
//     0.45 g/cm³).
//   - Print modes: the vendor's balanced, fast (about 10-15 % faster,
//     slightly lower dimensional accuracy) and mechanical/robust profiles.
//   - Layer optima (PA12 at the sheets' 0.08 mm, finer for PA11, coarser
//     for the filled and elastic powders) and all quality weights are not
//     published: representative values for the learning loop to discover.
//   - Agent consumption, component lives and defect weights are not
//     published: they are representative values chosen so a cartridge lasts
//     some builds, a printhead some hundreds of print hours and a lamp a
//     couple of thousand, in line with service-interval talk in user forums.
func processTable() processData {
	return processData{
		Models: []processSpec{
			{
				Model: "FF-4200", ModelNumber: "FF4200-A", Class: "powder-bed fusion printer, 4200-class",
				BuildMM: [3]float64{380, 284, 380}, LayerMM: 0.08,
				LayerMin: 7500 * time.Millisecond, LayerMax: 10 * time.Second,
				CoolBase: 3 * time.Hour, CoolFullHeight: 9 * time.Hour,
				Firmware: "4.2.9", ParameterSet: "std-4200-2.1",
				DiskBytes: 1 << 40, MemoryBytes: 64 << 30, Printheads: 6,
			},
			{
				Model: "FF-5200", ModelNumber: "FF5200-A", Class: "powder-bed fusion printer, 5200-class",
				BuildMM: [3]float64{380, 284, 380}, LayerMM: 0.08,
				LayerMin: 7 * time.Second, LayerMax: 9 * time.Second,
				CoolBase: 3 * time.Hour, CoolFullHeight: 9 * time.Hour,
				Firmware: "5.2.3", ParameterSet: "std-5200-3.0",
				DiskBytes: 2 << 40, MemoryBytes: 128 << 30, Printheads: 6,
			},
		},
		Materials: []material{
			{Name: "PA12", FreshShare: 0.20, PartGPerCM3: 1.01, BulkGPerCM3: 0.45, Quality: 0, DustFactor: 1, WarpProne: 0, LayerOptMM: 0.08, PartNumber: "MAT-PA12-30L"},
			{Name: "PA11", FreshShare: 0.30, PartGPerCM3: 1.05, BulkGPerCM3: 0.48, Quality: -0.1, DustFactor: 1, WarpProne: 0.3, LayerOptMM: 0.07, PartNumber: "MAT-PA11-30L"},
			{Name: "PA12 GB", FreshShare: 0.30, PartGPerCM3: 1.30, BulkGPerCM3: 0.60, Quality: -0.2, DustFactor: 1.3, WarpProne: 0, LayerOptMM: 0.09, PartNumber: "MAT-PA12GB-30L"},
			{Name: "TPU", FreshShare: 0.20, PartGPerCM3: 1.10, BulkGPerCM3: 0.50, Quality: -0.5, DustFactor: 1.5, WarpProne: 1, LayerOptMM: 0.10, PartNumber: "MAT-TPU01-30L"},
			{Name: "PP", FreshShare: 0.10, PartGPerCM3: 0.89, BulkGPerCM3: 0.40, Quality: -0.4, DustFactor: 1.2, WarpProne: 1.5, LayerOptMM: 0.10, PartNumber: "MAT-PP01-30L"},
		},
		Modes: []printMode{
			{Name: "balanced", LayerScale: 1.00, Quality: 0, Share: 0.55},
			{Name: "fast", LayerScale: 0.87, Quality: -0.7, Share: 0.25},
			{Name: "robust", LayerScale: 1.18, Quality: 0.6, Share: 0.20},
		},
		Agents: []agentSpec{
			{Name: "fusing", PerLayerML: 0.05, PerCM2ML: 0.008, CartridgeML: 5000, PartNumber: "AGT-FA-5L"},
			{Name: "detailing", PerLayerML: 0.35, PerCM2ML: 0.002, CartridgeML: 5000, PartNumber: "AGT-DA-5L"},
			{Name: "cyan", PerLayerML: 0.004, CartridgeML: 1000, PartNumber: "AGT-C-1L"},
			{Name: "magenta", PerLayerML: 0.004, CartridgeML: 1000, PartNumber: "AGT-M-1L"},
			{Name: "yellow", PerLayerML: 0.004, CartridgeML: 1000, PartNumber: "AGT-Y-1L"},
			{Name: "black", PerLayerML: 0.006, CartridgeML: 1000, PartNumber: "AGT-K-1L"},
		},
		Wear: []wearSpec{
			{Component: "printhead", Shape: 2.0, Scale: 450, LeadHours: 20, SilentShare: 0.2, MinorPerHour: 0.03,
				JobFailShare: 0.3, RepairMin: 30 * time.Minute, RepairMax: 90 * time.Minute, PartNumber: "PH-FD-600"},
			{Component: "lamp", Shape: 1.6, Scale: 2200, LeadHours: 60, SilentShare: 0.3, MinorPerHour: 0.01,
				JobFailShare: 0.5, PreventAt: 76, RepairMin: 40 * time.Minute, RepairMax: 2 * time.Hour, PartNumber: "LMP-FUS-1"},
			{Component: "filter", Shape: 6, Scale: 420, LeadHours: 25, SilentShare: 0.05,
				JobFailShare: 0.1, PreventAt: 12, RepairMin: 20 * time.Minute, RepairMax: 45 * time.Minute, PartNumber: "FLT-CAB-1"},
			{Component: "cooling", Shape: 1.8, Scale: 5000, LeadHours: 80, SilentShare: 0.25, MinorPerHour: 0.01,
				JobFailShare: 0.6, RepairMin: 2 * time.Hour, RepairMax: 6 * time.Hour, PartNumber: "CLS-FAN-1"},
			{Component: "carriage", Shape: 2.5, Scale: 6000, LeadHours: 100, SilentShare: 0.3, MinorPerHour: 0.005,
				JobFailShare: 0.4, RepairMin: 2 * time.Hour, RepairMax: 8 * time.Hour, PartNumber: "CRG-ASM-1"},
		},
		Quality: qualityModel{
			Base: 3.6, RecycledPerShare: 9, AgePerCycle: 0.15, DensityPerUnit: 10, DensityRef: 0.12,
			NearWall: 0.6, WallMM: 15, NearTop: 0.5, TopMM: 20, HeadHealth: 3, LampIntensity: 4,
			NonOriginal: 0.8, Expired: 0.5, LayerCurv: 2000,
		},
		Faults: []faultKind{
			{"FAULT_AGENT_PRESSURE", "agent supply pressure low", "agent-system", 10 * time.Minute, 45 * time.Minute},
			{"FAULT_RECOATER", "recoater powder feed jam", "build-unit", 20 * time.Minute, 90 * time.Minute},
			{"FAULT_DOOR", "top cover opened during operation", "front-panel", 5 * time.Minute, 20 * time.Minute},
		},
	}
}

// densityRef is the packing density at which cooling takes its nominal time.
const densityRef = 0.12

// Simulation tunables: how the printer's surroundings behave. Not physics,
// but chosen so a dashboard sees every state within a simulated day or two.
const (
	maxPending      = 3                // jobs the random arrivals keep queued at most
	maxQueued       = 20               // jobs queued at most, including submitted job files
	meanArrival     = 16 * time.Hour   // mean time between job submissions
	meanFaultGap    = 60 * time.Hour   // mean time between transient faults
	minHeightMM     = 24.0             // lowest build: 300 layers at 0.08 mm
	minDensity      = 0.05             // packing density range of a random build
	maxDensity      = 0.20             //
	idleMin         = 10 * time.Minute // sieve, refill before the next job (after unpacking)
	idleMax         = 2 * time.Hour    //
	unpackMin       = 30 * time.Minute // unpacking the build unit after cooling
	unpackMax       = 90 * time.Minute //
	prepMin         = 5 * time.Minute  // preparation once a job arrives at an idle printer
	prepMax         = 20 * time.Minute //
	layerJitter     = 0.04             // relative spread of one layer's time
	planError       = 0.03             // relative error of the job's planned layer time
	planPriorLayers = 20               // weight of the plan in the running mean, in layers
	sampleEvery     = time.Hour        // sensor and memory log period while not printing
	layersPerSample = 100              // sensor log period while printing, in layers
	layersPerWipe   = 25               // service-station use (spit and wipe) every so many layers
	rollWipes       = 2000             // wipes a cleaning roll lasts
	wallMarginMM    = 6.0              // closest a part sits to a wall of the build volume
	gapMM           = 4.0              // gap between parts
)

// The wear components, in the order of processData.Wear.
const (
	wkPrinthead = iota
	wkLamp
	wkFilter
	wkCooling
	wkCarriage
)

// Agent factors on printhead wear.
const (
	nonOriginalAgentWear = 2.0
	expiredAgentWear     = 1.5
	degradeFastWear      = 5.0 // an injected degrade-fast fault
)

// Supply thresholds.
const (
	agentLowPercent = 10.0
	rollLowPercent  = 90.0 // usage at which the roll is reported low
)

// faultKind is a transient fault: it stops the printer for a while, then
// clears. Component failures come from the wear model instead.
type faultKind struct {
	Code, Description, Subsystem string
	Min, Max                     time.Duration // how long it takes to clear
}
