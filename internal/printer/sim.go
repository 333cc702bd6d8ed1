package printer

import (
	"fmt"
	"math"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// step is a kind of moment at which the model changes.
type step uint8

const (
	stepPhase   step = iota // the phase or the current layer ends
	stepFault               // a fault is due
	stepArrival             // a job is submitted
)

// advance runs the model from p.now to to, one step at a time. Randomness is
// drawn only inside steps, so the history does not depend on how often the
// model is read. A clock that went back is ignored.
func (p *Printer) advance(to time.Time) {
	for {
		t, k := p.nextStep()
		if t.After(to) {
			break
		}
		p.now = t
		switch k {
		case stepPhase:
			p.endPhase()
		case stepFault:
			p.faultDue()
		case stepArrival:
			p.arrive()
		}
	}
	if to.After(p.now) {
		p.now = to
	}
}

// nextStep returns the earliest pending step; on a tie the phase end goes
// first, then the fault, then the arrival.
func (p *Printer) nextStep() (time.Time, step) {
	t, k := p.nextArrival, stepArrival
	if !p.nextFault.IsZero() && !p.nextFault.After(t) {
		t, k = p.nextFault, stepFault
	}
	if !p.phaseEnd.IsZero() && !p.phaseEnd.After(t) {
		t, k = p.phaseEnd, stepPhase
	}
	return t, k
}

func (p *Printer) endPhase() {
	switch p.phase {
	case phaseIdle:
		if len(p.pending) == 0 {
			p.phaseEnd = time.Time{} // wait for a job
			return
		}
		p.startJob()
	case phasePrinting:
		j := p.job
		j.done++
		j.sum += j.layerDur
		if j.done < j.layers {
			p.startLayer()
			return
		}
		p.finishPrint()
	case phaseCooling:
		p.emit("COOLING_FINISHED", "build unit cooled down", fleet.SeverityInfo, "build-unit",
			fmt.Sprintf("job %s", p.job.id))
		p.job = nil
		p.phase = phaseIdle
		p.phaseEnd = p.now.Add(p.between(idleMin, idleMax))
	case phaseError:
		p.clearFault()
	}
}

func (p *Printer) startJob() {
	j := p.pending[0]
	p.pending = p.pending[1:]
	p.job = j
	p.phase = phasePrinting
	p.emit("JOB_STARTED", "print job started", fleet.SeverityInfo, "job-manager",
		fmt.Sprintf("job %s: %d layers, build height %.1f mm, packing density %.1f %%", j.id, j.layers, j.heightMM, j.density*100))
	p.startLayer()
}

// startLayer draws the current layer's time around the job's mean.
func (p *Printer) startLayer() {
	j := p.job
	d := time.Duration(float64(j.actual) * (1 + layerJitter*p.rng.NormFloat64()))
	j.layerDur = min(max(d, p.spec.LayerMin*9/10), p.spec.LayerMax*11/10)
	p.phaseEnd = p.now.Add(j.layerDur)
}

func (p *Printer) finishPrint() {
	j := p.job
	p.emit("JOB_FINISHED", "print job finished", fleet.SeverityInfo, "job-manager",
		fmt.Sprintf("job %s: %d layers printed in %s", j.id, j.layers, j.sum.Round(time.Second)))
	p.emit("BUILD_UNIT_REMOVED", "build unit removed for cooling", fleet.SeverityInfo, "build-unit",
		fmt.Sprintf("job %s", j.id))
	p.emit("COOLING_STARTED", "build unit cooling started", fleet.SeverityInfo, "build-unit",
		fmt.Sprintf("job %s: estimated cooling %s", j.id, j.cool.Round(time.Minute)))
	p.phase = phaseCooling
	p.phaseEnd = p.now.Add(j.cool)
}

// faultDue raises a fault if the printer is idle or printing; a cooling
// build unit sits outside the printer's mechanics, so the fault is put off.
func (p *Printer) faultDue() {
	if p.phase != phaseIdle && p.phase != phasePrinting {
		p.nextFault = p.now.Add(p.exp(meanFaultGap))
		return
	}
	faults := faultTable()
	f := faults[p.rng.IntN(len(faults))]
	details := "printer idle"
	if p.phase == phasePrinting {
		p.paused = p.phaseEnd.Sub(p.now)
		details = fmt.Sprintf("job %s paused at layer %d of %d", p.job.id, p.job.done+1, p.job.layers)
	}
	p.fault, p.resume = f, p.phase
	p.phase = phaseError
	p.phaseEnd = p.now.Add(p.between(f.Min, f.Max))
	p.nextFault = time.Time{}
	p.emit(f.Code, f.Description, fleet.SeverityError, f.Subsystem, details)
}

func (p *Printer) clearFault() {
	p.emit("FAULT_CLEARED", p.fault.Description+" cleared", fleet.SeverityInfo, p.fault.Subsystem,
		fmt.Sprintf("fault %s cleared", p.fault.Code))
	p.nextFault = p.now.Add(p.exp(meanFaultGap))
	if p.resume == phasePrinting {
		p.phase = phasePrinting
		p.phaseEnd = p.now.Add(p.paused)
		p.paused = 0
		return
	}
	p.phase = phaseIdle
	p.phaseEnd = p.now.Add(p.between(prepMin, prepMax))
}

// arrive handles a job submission: queued if there is room, else refused
// by the submitting application (and not seen by the printer).
func (p *Printer) arrive() {
	p.nextArrival = p.now.Add(p.exp(meanArrival))
	if len(p.pending) >= maxPending {
		return
	}
	p.enqueue()
	if p.phase == phaseIdle && p.phaseEnd.IsZero() {
		p.phaseEnd = p.now.Add(p.between(prepMin, prepMax))
	}
}

// enqueue makes a new job and queues it.
func (p *Printer) enqueue() {
	j := p.newJob()
	p.pending = append(p.pending, j)
	p.emit("JOB_QUEUED", "print job queued", fleet.SeverityInfo, "job-manager",
		fmt.Sprintf("job %s: %d layers", j.id, j.layers))
}

// newJob draws a job: random ID, private names, build height and packing
// density, and from them the layer count, layer time and cooling time.
func (p *Printer) newJob() *job {
	families := [...]string{"Gearbox housing", "Bracket set", "Impeller", "Duct elbow", "Orthotic insole",
		"Gripper fingers", "Sensor mount", "Hinge kit", "Manifold block", "Lattice panel", "Cable clips", "Pump cover"}
	users := [...]string{"mkeller", "jsato", "a.novak", "lbrandt", "rpatel", "schen", "oduarte", "kwalsh"}
	hosts := [...]string{"CAD-WS-07", "ENG-LAPTOP-12", "PREP-PC-02", "DESIGN-WS-03", "AM-STATION-01"}

	s := p.spec
	height := minHeightMM + (s.BuildMM[2]-minHeightMM)*p.rng.Float64()
	density := minDensity + (maxDensity-minDensity)*p.rng.Float64()
	dnorm := (density - minDensity) / (maxDensity - minDensity)
	planned := s.LayerMin + time.Duration(float64(s.LayerMax-s.LayerMin)*(0.5*dnorm+0.5*p.rng.Float64()))
	cool := s.CoolBase + time.Duration(float64(s.CoolFullHeight)*(height/s.BuildMM[2])*(0.5+0.5*density/densityRef))
	return &job{
		id:       randomCode(p.rng, 12),
		name:     fmt.Sprintf("%s batch %d", families[p.rng.IntN(len(families))], 1+p.rng.IntN(40)),
		user:     users[p.rng.IntN(len(users))],
		host:     hosts[p.rng.IntN(len(hosts))],
		heightMM: height,
		density:  density,
		layers:   int(math.Round(height / s.LayerMM)),
		planned:  planned,
		actual:   time.Duration(float64(planned) * (1 + planError*p.rng.NormFloat64())),
		cool:     time.Duration(float64(cool) * (0.9 + 0.2*p.rng.Float64())),
	}
}

func (p *Printer) emit(code, desc string, sev fleet.Severity, subsystem, details string) {
	p.events.add(fleet.Event{
		Code: code, Description: desc, Severity: sev, Time: p.now,
		Firmware: p.firmware, Subsystem: subsystem, Details: details,
	})
}

// between returns a uniform random duration in [lo, hi].
func (p *Printer) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(p.rng.Int64N(int64(hi-lo)+1))
}

// exp returns an exponentially distributed duration with the given mean,
// at least a second so steps always move time forward.
func (p *Printer) exp(mean time.Duration) time.Duration {
	return max(time.Duration(p.rng.ExpFloat64()*float64(mean)), time.Second)
}
