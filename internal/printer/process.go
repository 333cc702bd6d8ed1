package printer

import "time"

// processSpec holds the process constants of one printer class.
type processSpec struct {
	Model       string // as shown in identity, e.g. "FF-4200"
	ModelNumber string
	Class       string     // description
	BuildMM     [3]float64 // build volume x, y, z in mm
	LayerMM     float64    // layer thickness
	// Layer time range: the time one layer takes (recoat, print, fuse).
	LayerMin, LayerMax time.Duration
	// Cooling in the build unit after printing: CoolBase for any build plus
	// CoolFullHeight scaled by build height / BuildMM[2] and by packing
	// density relative to densityRef.
	CoolBase, CoolFullHeight time.Duration
	Firmware                 string // default firmware release
	DiskBytes, MemoryBytes   int64
}

// densityRef is the packing density at which cooling takes its nominal time.
const densityRef = 0.12

// processTable is the one table of process constants. Public sources: the
// technical data sheets of the 4200- and 5200-class powder-bed fusion
// printers (build volume 380 x 284 x 380 mm, layer thickness 0.08 mm, so a
// full-height build is about 4,750 layers; 5200 class somewhat faster per
// layer), the vendor's published build times of roughly 7-10 s per layer,
// and its guidance that a build unit cools for several hours, longer for
// tall and densely packed builds. Disk and memory are representative values
// of the class. It is a function so the table cannot be modified.
func processTable() []processSpec {
	return []processSpec{
		{
			Model: "FF-4200", ModelNumber: "FF4200-A", Class: "powder-bed fusion printer, 4200-class",
			BuildMM: [3]float64{380, 284, 380}, LayerMM: 0.08,
			LayerMin: 7500 * time.Millisecond, LayerMax: 10 * time.Second,
			CoolBase: 3 * time.Hour, CoolFullHeight: 9 * time.Hour,
			Firmware: "4.2.9", DiskBytes: 1 << 40, MemoryBytes: 64 << 30,
		},
		{
			Model: "FF-5200", ModelNumber: "FF5200-A", Class: "powder-bed fusion printer, 5200-class",
			BuildMM: [3]float64{380, 284, 380}, LayerMM: 0.08,
			LayerMin: 7 * time.Second, LayerMax: 9 * time.Second,
			CoolBase: 3 * time.Hour, CoolFullHeight: 9 * time.Hour,
			Firmware: "5.2.3", DiskBytes: 2 << 40, MemoryBytes: 128 << 30,
		},
	}
}

// Simulation tunables: how the printer's surroundings behave. Not physics,
// but chosen so a dashboard sees every state within a simulated day or two.
const (
	maxPending      = 3                // jobs waiting in the queue at most
	meanArrival     = 16 * time.Hour   // mean time between job submissions
	meanFaultGap    = 40 * time.Hour   // mean time between faults
	minHeightMM     = 24.0             // lowest build: 300 layers at 0.08 mm
	minDensity      = 0.06             // packing density range of a build
	maxDensity      = 0.20             //
	idleMin         = 10 * time.Minute // unload, sieve, refill before the next job
	idleMax         = 2 * time.Hour    //
	prepMin         = 5 * time.Minute  // preparation once a job arrives at an idle printer
	prepMax         = 20 * time.Minute //
	layerJitter     = 0.04             // relative spread of one layer's time
	planError       = 0.03             // relative error of the job's planned layer time
	planPriorLayers = 20               // weight of the plan in the running mean, in layers
)

// faultKind is a fault the printer can raise: it stops the printer for a
// while, then clears.
type faultKind struct {
	Code, Description, Subsystem string
	Min, Max                     time.Duration // how long it takes to clear
}

func faultTable() []faultKind {
	return []faultKind{
		{"FAULT_LAMP", "lamp fault", "fusing-lamps", 20 * time.Minute, 2 * time.Hour},
		{"FAULT_PRINTHEAD", "printhead recovery failed", "printheads", 15 * time.Minute, time.Hour},
		{"FAULT_CARRIAGE", "carriage motion stall", "carriage", 30 * time.Minute, 3 * time.Hour},
		{"FAULT_AGENT_PRESSURE", "agent supply pressure low", "agent-system", 10 * time.Minute, 45 * time.Minute},
		{"FAULT_RECOATER", "recoater powder feed jam", "build-unit", 20 * time.Minute, 90 * time.Minute},
	}
}
