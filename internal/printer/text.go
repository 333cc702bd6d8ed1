package printer

import (
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Events and log lines are kept as compact records (rec) and rendered into
// text only when read. The templates below are the only place their words
// live. Like real printers, some write the job's name, its user, the
// computer it came from and its file's path into free text (the session
// log, the queued event, a job's warnings): the Command Center scrubs them
// before anything leaves the site (R-PRIV-2).

// The event templates, by index.
const (
	evPrinterStarted uint16 = iota
	evJobQueued
	evJobStarted
	evJobFinished
	evBuildUnitRemoved
	evCoolingStarted
	evCoolingFinished
	evJobUnpacked
	evJobFailed
	evFaultCleared
	evRepairDone
	evCleaningRollLow
	evCleaningRollReplaced
	evAgentLow
	evAgentReplaced
	evAgentNonOriginal
	evAgentExpired
	evMaterialNonOriginal
	evMaterialExpired
	evFirmwareChanged
	evParameterSetChanged
	evCompBase // then per wear component kind: minor, warning, failure, replaced
)

const (
	compMinor = iota
	compWarn
	compFail
	compReplaced
	compEventCount
)

// evTransientBase returns the template index of the first transient fault.
func evTransientBase(wearKinds int) uint16 { return evCompBase + uint16(wearKinds*compEventCount) }

// evTemplate renders one kind of event. Details gets the printer to
// resolve job numbers and component names.
type evTemplate struct {
	Code, Description string
	Severity          fleet.Severity
	Subsystem         string
	Details           func(p *Printer, r *rec) string
}

func jobDetails(format string) func(p *Printer, r *rec) string {
	return func(p *Printer, r *rec) string { return fmt.Sprintf(format, p.jobID(r.job)) }
}

func agentDetails(format string) func(p *Printer, r *rec) string {
	return func(p *Printer, r *rec) string {
		return fmt.Sprintf(format, p.tab.Agents[r.a].Name, r.v)
	}
}

// eventTemplates returns the event templates; the component and transient
// fault entries follow the wear and fault tables.
func eventTemplates(tab *processData) []evTemplate {
	ts := []evTemplate{
		evPrinterStarted: {"PRINTER_STARTED", "printer started", fleet.SeverityInfo, "system",
			func(p *Printer, r *rec) string {
				return fmt.Sprintf("firmware %s, parameter set %s", p.firmwareAt(r.ms), p.paramSet)
			}},
		evJobQueued: {"JOB_QUEUED", "print job queued", fleet.SeverityInfo, "job-manager",
			func(p *Printer, r *rec) string {
				name, user, host, _ := p.jobPrivate(r.job)
				return fmt.Sprintf("job %s: %d layers, %d parts; \"%s\" submitted by %s from %s", p.jobID(r.job), r.a, r.b, name, user, host)
			}},
		evJobStarted: {"JOB_STARTED", "print job started", fleet.SeverityInfo, "job-manager",
			func(p *Printer, r *rec) string {
				return fmt.Sprintf("job %s: %d layers, build height %.1f mm, packing density %.1f %%", p.jobID(r.job), r.a, r.v, r.w)
			}},
		evJobFinished: {"JOB_FINISHED", "print job finished", fleet.SeverityInfo, "job-manager",
			func(p *Printer, r *rec) string {
				return fmt.Sprintf("job %s: %d layers printed in %.0f s", p.jobID(r.job), r.a, r.v)
			}},
		evBuildUnitRemoved: {"BUILD_UNIT_REMOVED", "build unit removed for cooling", fleet.SeverityInfo, "build-unit", jobDetails("job %s")},
		evCoolingStarted: {"COOLING_STARTED", "build unit cooling started", fleet.SeverityInfo, "build-unit",
			func(p *Printer, r *rec) string {
				return fmt.Sprintf("job %s: estimated cooling %.0f min", p.jobID(r.job), r.v)
			}},
		evCoolingFinished: {"COOLING_FINISHED", "build unit cooled down", fleet.SeverityInfo, "build-unit", jobDetails("job %s")},
		evJobUnpacked: {"JOB_UNPACKED", "build unit unpacked, parts inspected", fleet.SeverityInfo, "build-unit",
			func(p *Printer, r *rec) string {
				return fmt.Sprintf("job %s: %d of %d parts passed inspection", p.jobID(r.job), r.a, r.b)
			}},
		evJobFailed: {"JOB_FAILED", "print job failed", fleet.SeverityError, "job-manager",
			func(p *Printer, r *rec) string {
				return fmt.Sprintf("job %s: aborted at layer %d after a failure", p.jobID(r.job), r.a)
			}},
		evFaultCleared: {"FAULT_CLEARED", "transient fault cleared", fleet.SeverityInfo, "system",
			func(p *Printer, r *rec) string { return fmt.Sprintf("fault %s cleared", p.tab.Faults[r.a].Code) }},
		evRepairDone: {"REPAIR_DONE", "repair finished, printer ready", fleet.SeverityInfo, "system",
			func(p *Printer, r *rec) string {
				return fmt.Sprintf("%s %s repaired after %.0f min", p.tab.Wear[r.a].Component, p.compName(int(r.a), int(r.b)), r.v)
			}},
		evCleaningRollLow: {"CLEANING_ROLL_LOW", "printhead cleaning roll almost used up", fleet.SeverityWarning, "service-station",
			func(p *Printer, r *rec) string { return fmt.Sprintf("usage %.1f %%", r.v) }},
		evCleaningRollReplaced: {"CLEANING_ROLL_REPLACED", "printhead cleaning roll replaced", fleet.SeverityInfo, "service-station",
			func(p *Printer, r *rec) string { return fmt.Sprintf("previous roll used %.1f %%", r.v) }},
		evAgentLow:         {"AGENT_LOW", "agent supply low", fleet.SeverityWarning, "agent-system", agentDetails("%s cartridge at %.1f %%")},
		evAgentReplaced:    {"AGENT_CARTRIDGE_REPLACED", "agent cartridge replaced", fleet.SeverityInfo, "agent-system", agentDetails("%s cartridge replaced at %.1f %%")},
		evAgentNonOriginal: {"AGENT_NON_ORIGINAL", "non-original agent cartridge inserted", fleet.SeverityWarning, "agent-system", agentDetails("%s cartridge, level %.1f %%")},
		evAgentExpired:     {"AGENT_EXPIRED", "expired agent cartridge inserted", fleet.SeverityWarning, "agent-system", agentDetails("%s cartridge, level %.1f %%")},
		evMaterialNonOriginal: {"MATERIAL_NON_ORIGINAL", "non-original material loaded", fleet.SeverityWarning, "build-unit",
			func(p *Printer, r *rec) string {
				return fmt.Sprintf("%s in build unit, job %s", p.tab.Materials[r.a].Name, p.jobID(r.job))
			}},
		evMaterialExpired: {"MATERIAL_EXPIRED", "expired material loaded", fleet.SeverityWarning, "build-unit",
			func(p *Printer, r *rec) string {
				return fmt.Sprintf("%s in build unit, job %s", p.tab.Materials[r.a].Name, p.jobID(r.job))
			}},
		evFirmwareChanged: {"FIRMWARE_UPDATED", "firmware updated", fleet.SeverityInfo, "system",
			func(p *Printer, r *rec) string { return "firmware " + p.firmwareAt(r.ms) }},
		evParameterSetChanged: {"PARAMETER_SET_UPDATED", "print-parameter set updated", fleet.SeverityInfo, "system",
			func(p *Printer, r *rec) string { return fmt.Sprintf("parameter set revision %d installed", r.a) }},
	}
	type compCodes struct{ minor, warn, fail, replaced, subsystem, value string }
	codes := map[string]compCodes{
		"printhead": {"PRINTHEAD_RECOVERY", "PRINTHEAD_NOZZLE_HEALTH_LOW", "PRINTHEAD_FAILED", "PRINTHEAD_REPLACED", "printheads", "nozzle health %.0f %%"},
		"lamp":      {"LAMP_IGNITION_RETRY", "LAMP_INTENSITY_LOW", "LAMP_FAILED", "LAMP_REPLACED", "fusing-lamps", "intensity %.1f %%"},
		"filter":    {"FILTER_AIRFLOW_DEVIATION", "FILTER_CLOGGED", "FILTER_BLOCKED", "FILTER_REPLACED", "air-filter", "filter life left %.0f %%"},
		"cooling":   {"THERMAL_DEVIATION", "THERMAL_WARNING", "COOLING_SYSTEM_FAILED", "COOLING_SYSTEM_SERVICED", "cooling-system", "heat exchanger delta %.1f K"},
		"carriage":  {"CARRIAGE_MOTION_DEVIATION", "CARRIAGE_WEAR_HIGH", "CARRIAGE_FAILED", "CARRIAGE_SERVICED", "carriage", "position error %.1f um"},
	}
	for _, w := range tab.Wear {
		c := codes[w.Component]
		value := c.value
		details := func(p *Printer, r *rec) string {
			return fmt.Sprintf("%s %s: "+value+", usage %.1f h", w.Component, p.compName(int(r.a), int(r.b)), r.v, r.w)
		}
		ts = append(ts,
			evTemplate{c.minor, w.Component + " minor deviation corrected", fleet.SeverityInfo, c.subsystem, details},
			evTemplate{c.warn, w.Component + " condition degrading", fleet.SeverityWarning, c.subsystem, details},
			evTemplate{c.fail, w.Component + " failed", fleet.SeverityError, c.subsystem, details},
			evTemplate{c.replaced, w.Component + " replaced", fleet.SeverityInfo, c.subsystem, details},
		)
	}
	for _, f := range tab.Faults {
		ts = append(ts, evTemplate{f.Code, f.Description, fleet.SeverityError, f.Subsystem,
			func(p *Printer, r *rec) string {
				if r.job == 0 {
					return "printer idle"
				}
				return fmt.Sprintf("job %s paused at layer %d of %d", p.jobID(r.job), r.a, r.b)
			}})
	}
	return ts
}

// The log templates, by index.
const (
	lgSessionStart uint16 = iota
	lgSessionJob
	lgSessionFailed
	lgSessionConfig
	lgHeadStatus
	lgHeadEvent
	lgLampStatus
	lgLampEvent
	lgCoolServo
	lgCoolEvent
	lgBuildInsert
	lgBuildRemove
	lgBuildPowder
	lgState
	lgTrolleyOn
	lgTrolleyOff
	lgPanel
	lgSensors
	lgMemory
	lgCarriage
)

type logTemplate struct {
	Log    fleet.LogKind
	Render func(p *Printer, r *rec) string
}

func phaseNames(ph phase) string {
	switch ph {
	case phaseIdle:
		return "IDLE"
	case phasePrinting:
		return "PRINTING"
	case phaseCooling:
		return "COOLING"
	case phaseError:
		return "ERROR"
	}
	return "UNKNOWN"
}

func logTemplates() []logTemplate {
	sessionWhat := [...]string{"job accepted", "job started", "printing finished", "cooling finished", "unpacking finished", "job paused", "job resumed"}
	panelWhat := [...]string{"operator confirmed job start", "operator acknowledged alert", "operator replaced consumable", "operator opened build unit drawer", "operator closed build unit drawer"}
	return []logTemplate{
		lgSessionStart: {fleet.LogSession, func(p *Printer, r *rec) string {
			return fmt.Sprintf("session start: firmware %s, build volume %gx%gx%g mm", p.firmwareAt(r.ms), p.spec.BuildMM[0], p.spec.BuildMM[1], p.spec.BuildMM[2])
		}},
		lgSessionJob: {fleet.LogSession, func(p *Printer, r *rec) string {
			if r.a == 0 {
				name, user, host, file := p.jobPrivate(r.job)
				return fmt.Sprintf("job %s: job accepted: \"%s\" from %s@%s, file %s", p.jobID(r.job), name, user, host, file)
			}
			return fmt.Sprintf("job %s: %s (layer %d)", p.jobID(r.job), sessionWhat[r.a%uint16(len(sessionWhat))], r.b)
		}},
		lgSessionFailed: {fleet.LogSession, func(p *Printer, r *rec) string {
			return fmt.Sprintf("job %s: aborted at layer %d, error %s", p.jobID(r.job), r.b, p.evt[r.a].Code)
		}},
		lgSessionConfig: {fleet.LogSession, func(p *Printer, r *rec) string {
			return fmt.Sprintf("configuration changed: firmware %s, parameter set revision %d", p.firmwareAt(r.ms), r.a)
		}},
		lgHeadStatus: {fleet.LogPrinthead, func(p *Printer, r *rec) string {
			return fmt.Sprintf("PH%d: nozzle health %.1f %%, agent used %.0f cc", r.a+1, r.v, r.w)
		}},
		lgHeadEvent: {fleet.LogPrinthead, func(p *Printer, r *rec) string {
			return fmt.Sprintf("PH%d: %s, recovery level %d", r.a+1, [...]string{"recovery performed", "health below threshold", "failure detected", "new printhead installed"}[r.b%4], int(r.v))
		}},
		lgLampStatus: {fleet.LogLampControl, func(p *Printer, r *rec) string {
			return fmt.Sprintf("%s: %.1f h, intensity %.1f %%, setpoint %.0f W", p.compName(1, int(r.a)), r.v, r.w, 1500+10*float64(r.b))
		}},
		lgLampEvent: {fleet.LogLampControl, func(p *Printer, r *rec) string {
			return fmt.Sprintf("%s: %s", p.compName(1, int(r.a)), [...]string{"ignition retry", "intensity below threshold", "lamp out", "new lamp installed"}[r.b%4])
		}},
		lgCoolServo: {fleet.LogCoolingServo, func(p *Printer, r *rec) string {
			return fmt.Sprintf("fan duty %d %%, coolant %.1f C, delta %.2f K", r.a, r.v, r.w)
		}},
		lgCoolEvent: {fleet.LogCoolingServo, func(p *Printer, r *rec) string {
			return fmt.Sprintf("%s (delta %.2f K)", [...]string{"thermal deviation corrected", "thermal margin low", "cooling loop failure", "cooling loop serviced"}[r.b%4], r.v)
		}},
		lgBuildInsert: {fleet.LogBuildModule, func(p *Printer, r *rec) string {
			return fmt.Sprintf("build unit %s inserted (insert %d), job %s", p.unit.serial, r.a, p.jobID(r.job))
		}},
		lgBuildRemove: {fleet.LogBuildModule, func(p *Printer, r *rec) string {
			return fmt.Sprintf("build unit %s removed, job %s, recyclable powder %.2f kg", p.unit.serial, p.jobID(r.job), r.v)
		}},
		lgBuildPowder: {fleet.LogBuildModule, func(p *Printer, r *rec) string {
			return fmt.Sprintf("powder loaded: %s %.2f kg, recycled %.0f %%", p.tab.Materials[r.a].Name, r.v, r.w)
		}},
		lgState: {fleet.LogStateMachine, func(p *Printer, r *rec) string {
			return fmt.Sprintf("state %s -> %s", phaseNames(phase(r.a)), phaseNames(phase(r.b)))
		}},
		lgTrolleyOn: {fleet.LogTrolleyHeating, func(p *Printer, r *rec) string {
			return fmt.Sprintf("trolley heater on, target %.0f C, current %.1f C", r.v, r.w)
		}},
		lgTrolleyOff: {fleet.LogTrolleyHeating, func(p *Printer, r *rec) string {
			return fmt.Sprintf("trolley heater off, bed %.1f C", r.v)
		}},
		lgPanel: {fleet.LogFrontPanel, func(p *Printer, r *rec) string {
			return panelWhat[r.a%uint16(len(panelWhat))]
		}},
		lgSensors: {fleet.LogSensors, func(p *Printer, r *rec) string {
			return fmt.Sprintf("bed %.1f C, chamber %.1f C, humidity %d %%, O2 %.1f %%", r.v, r.w, r.a, 20.0+float64(r.b)/100)
		}},
		lgMemory: {fleet.LogMemory, func(p *Printer, r *rec) string {
			return fmt.Sprintf("memory used %d MiB of %d MiB, job cache %d MiB", int(r.v), p.spec.MemoryBytes>>20, r.a)
		}},
		lgCarriage: {fleet.LogStateMachine, func(p *Printer, r *rec) string {
			return fmt.Sprintf("carriage homed, %d cycles, recoater %s", int64(r.v), [...]string{"ready", "cleaning"}[r.a%2])
		}},
	}
}

// logIndex maps a log kind to its position in fleet.LogKinds.
func logIndex(k fleet.LogKind) int {
	for i, l := range fleet.LogKinds() {
		if l == k {
			return i
		}
	}
	return -1
}
