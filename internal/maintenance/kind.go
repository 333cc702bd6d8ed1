package maintenance

import "strings"

// Kind is a wearing component kind.
type Kind string

// The wearing component kinds.
const (
	Printhead Kind = "printhead"
	Lamp      Kind = "lamp"
	Filter    Kind = "filter"
	Cooling   Kind = "cooling"
	Carriage  Kind = "carriage"
)

// kindSpec is what is public about a kind: its part number, the life the
// datasheet rates it for in usage hours, and the event codes its printers
// send.
type kindSpec struct {
	kind       Kind
	part       string
	ratedHours float64
	// single: one per printer, so events alone tell which instance they
	// concern; otherwise consumables snapshots do.
	single                        bool
	warn, fail, replaced, recover string
	// lowIsWarn: the warning event also fires when the part is merely
	// used up (a filter's life left below a fifth), so it does not mean a
	// failure is coming; a step in the condition series does.
	lowIsWarn bool
}

var kinds = []kindSpec{
	{Printhead, "PH-FD-600", 400, false, "PRINTHEAD_NOZZLE_HEALTH_LOW", "PRINTHEAD_FAILED", "PRINTHEAD_REPLACED", "PRINTHEAD_RECOVERY", false},
	{Lamp, "LMP-FUS-1", 2000, false, "LAMP_INTENSITY_LOW", "LAMP_FAILED", "LAMP_REPLACED", "LAMP_IGNITION_RETRY", false},
	{Filter, "FLT-CAB-1", 400, true, "FILTER_CLOGGED", "FILTER_BLOCKED", "FILTER_REPLACED", "FILTER_AIRFLOW_DEVIATION", true},
	{Cooling, "CLS-FAN-1", 4500, true, "THERMAL_WARNING", "COOLING_SYSTEM_FAILED", "COOLING_SYSTEM_SERVICED", "THERMAL_DEVIATION", false},
	{Carriage, "CRG-ASM-1", 5500, true, "CARRIAGE_WEAR_HIGH", "CARRIAGE_FAILED", "CARRIAGE_SERVICED", "CARRIAGE_MOTION_DEVIATION", false},
}

// Kinds returns the wearing component kinds.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for i, k := range kinds {
		out[i] = k.kind
	}
	return out
}

func specOf(k Kind) *kindSpec {
	for i := range kinds {
		if kinds[i].kind == k {
			return &kinds[i]
		}
	}
	return nil
}

// RatedHours is the usage life the datasheet rates a kind for.
func RatedHours(k Kind) float64 {
	if s := specOf(k); s != nil {
		return s.ratedHours
	}
	return 0
}

// PartNumber is the spare part that replaces a kind.
func PartNumber(k Kind) string {
	if s := specOf(k); s != nil {
		return s.part
	}
	return ""
}

// eventOf says which kind an event code concerns and what it says.
func eventOf(code string) (*kindSpec, signal) {
	for i := range kinds {
		s := &kinds[i]
		switch strings.ToUpper(code) {
		case s.warn:
			return s, sigWarn
		case s.fail:
			return s, sigFail
		case s.replaced:
			return s, sigReplaced
		case s.recover:
			return s, sigMinor
		}
	}
	return nil, 0
}

type signal uint8

const (
	sigMinor signal = iota + 1
	sigWarn
	sigFail
	sigReplaced
)
