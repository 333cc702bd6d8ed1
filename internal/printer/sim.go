package printer

import (
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// step is a kind of moment at which the model changes.
type step uint8

const (
	stepPhase   step = iota // the phase or the current layer ends
	stepUnpack              // a cooled build unit is unpacked
	stepFault               // a transient fault is due
	stepSample              // periodic sensor and memory readings
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
		case stepUnpack:
			p.unpacked()
		case stepFault:
			p.faultDue()
		case stepSample:
			p.sample()
		case stepArrival:
			p.arrive()
		}
	}
	if to.After(p.now) {
		p.now = to
	}
}

// nextStep returns the earliest pending step; on a tie the phase end goes
// first, then unpacking, the fault, the sample and the arrival.
func (p *Printer) nextStep() (time.Time, step) {
	t, k := p.nextArrival, stepArrival
	if !p.nextSample.After(t) {
		t, k = p.nextSample, stepSample
	}
	if !p.nextFault.IsZero() && !p.nextFault.After(t) {
		t, k = p.nextFault, stepFault
	}
	if !p.unpackEnd.IsZero() && !p.unpackEnd.After(t) {
		t, k = p.unpackEnd, stepUnpack
	}
	if !p.phaseEnd.IsZero() && !p.phaseEnd.After(t) {
		t, k = p.phaseEnd, stepPhase
	}
	return t, k
}

func (p *Printer) endPhase() {
	switch p.phase {
	case phaseIdle:
		if len(p.pending) == 0 || p.unpacking != nil || p.updating {
			p.phaseEnd = time.Time{} // wait for a job, the build unit or the end of an update
			return
		}
		p.startJob()
	case phasePrinting:
		p.endLayer()
	case phaseCooling:
		p.cooled()
	case phaseError:
		p.clearFault()
	}
}

func (p *Printer) setPhase(ph phase) {
	p.log(lgState, 0, uint16(p.phase), uint16(ph), 0, 0)
	p.phase = ph
}

func (p *Printer) startJob() {
	j := p.pending[0]
	p.pending = p.pending[1:]
	p.maintain()
	p.job = j
	j.started = p.now
	prep := p.between(prepMin, prepMax)
	j.prepStart = p.now.Add(-min(prep, p.now.Sub(j.created)))
	j.paramSet = p.paramSet
	j.status = fleet.JobPrinting

	// Powder: the refresh ratio the site used, and its ageing.
	save, how := p.rng.Float64(), 0.0
	if save < 0.35 {
		how = p.rng.Float64()
	}
	fresh := p.freshShare(j.material, save, how)
	u := &p.unit
	if u.material != j.material || u.inserts == 0 {
		u.age = 0
	}
	u.age = (1 - fresh) * (u.age + 1)
	j.recycled, j.age = 1-fresh, u.age
	j.nonOrigPowder, j.expiredPowder = p.powder.nonOriginal, p.powder.expired
	u.inserts++
	u.status, u.material, u.recycled, u.kg = "printing", j.material, j.recycled, j.powderKG
	u.nonOrig, u.expired = j.nonOrigPowder, j.expiredPowder
	for i := range p.agents {
		p.agents[i].inserts++
	}
	p.ctr.totalJobs++
	p.ctr.agentSysH += p.now.Sub(j.prepStart).Hours()

	p.emit(evJobStarted, j.no, uint16(j.layers), 0, j.heightMM, 100*j.density)
	if j.nonOrigPowder {
		p.emit(evMaterialNonOriginal, j.no, uint16(j.material), 0, 0, 0)
	}
	if j.expiredPowder {
		p.emit(evMaterialExpired, j.no, uint16(j.material), 0, 0, 0)
	}
	p.log(lgPanel, 0, 0, 0, 0, 0)
	p.log(lgSessionJob, j.no, 1, 0, 0, 0)
	p.log(lgBuildInsert, j.no, uint16(min(u.inserts, 65535)), 0, 0, 0)
	p.log(lgBuildPowder, j.no, uint16(j.material), 0, j.powderKG, 100*j.recycled)
	p.log(lgTrolleyOn, j.no, 0, 0, 160+10*p.rng.Float64(), 25+5*p.rng.Float64())
	for _, c := range p.comps {
		switch c.kind {
		case wkPrinthead:
			p.log(lgHeadStatus, j.no, uint16(c.slot), 0, p.condition(c), c.agentCC)
		case wkLamp:
			p.log(lgLampStatus, j.no, uint16(c.slot), uint16(p.rng.IntN(20)), c.used, p.condition(c))
		}
	}
	p.setPhase(phasePrinting)
	p.addJobEntry(j)
	p.startLayer()
}

// startLayer draws the current layer's time around the job's mean and
// notes the parts whose printing starts in it.
func (p *Printer) startLayer() {
	j := p.job
	idx := j.done + 1
	for j.nextFirst < len(j.byFirst) && j.parts[j.byFirst[j.nextFirst]].first <= idx {
		pt := &j.parts[j.byFirst[j.nextFirst]]
		pt.printStart = p.now
		j.areaMM2 += pt.volCM3 * 1000 / (float64(pt.last-pt.first+1) * j.layerMM)
		j.nextFirst++
	}
	d := time.Duration(float64(j.actual) * (1 + layerJitter*p.rng.NormFloat64()))
	lo := time.Duration(float64(p.spec.LayerMin) * 0.9 * p.tab.Modes[j.mode].LayerScale)
	hi := time.Duration(float64(p.spec.LayerMax) * 1.1 * p.tab.Modes[j.mode].LayerScale)
	j.layerDur = min(max(d, lo), hi).Round(time.Millisecond)
	p.phaseEnd = p.now.Add(j.layerDur)
}

func (p *Printer) endLayer() {
	j := p.job
	j.done++
	j.sum += j.layerDur
	dtH := j.layerDur.Hours()
	area := max(j.areaMM2, 0)
	p.layers.add(layerRec{ms: p.now.Add(-j.layerDur).UnixMilli(), durMS: uint16(j.layerDur.Milliseconds()),
		index: uint16(j.done), job: j.no, area: uint16(min(area/areaUnitMM2+0.5, 65535))})
	p.ctr.layers++
	p.ctr.printMS += j.layerDur.Milliseconds()
	p.ctr.lampH += dtH
	p.ctr.coolingH += dtH
	p.ctr.agentSysH += dtH
	p.unit.usageH += dtH
	failed := p.wearLayer(dtH, area/100)
	for j.nextLast < len(j.byLast) && j.parts[j.byLast[j.nextLast]].last <= j.done {
		pt := &j.parts[j.byLast[j.nextLast]]
		pt.printEnd = p.now
		j.areaMM2 -= pt.volCM3 * 1000 / (float64(pt.last-pt.first+1) * j.layerMM)
		j.nextLast++
	}
	if j.done%layersPerSample == 0 {
		p.sensorLog(true)
	}
	if failed != nil {
		p.failComp(failed, false)
		return
	}
	if j.done < j.layers {
		p.startLayer()
		return
	}
	p.finishPrint()
}

func (p *Printer) finishPrint() {
	j := p.job
	j.finished = p.now
	j.status = fleet.JobCooling
	p.drawQuality(j)
	p.ctr.parts += int64(len(j.parts))
	p.ctr.printVolCM3 += j.volCM3
	p.ctr.materialKG += j.partsKG + 0.08*(j.powderKG-j.partsKG)
	p.unit.status = "cooling"
	p.emit(evJobFinished, j.no, uint16(j.layers), 0, j.sum.Seconds(), 0)
	p.emit(evBuildUnitRemoved, j.no, 0, 0, 0, 0)
	p.emit(evCoolingStarted, j.no, 0, 0, j.cool.Minutes(), 0)
	p.log(lgSessionJob, j.no, 2, uint16(j.done), 0, 0)
	p.log(lgBuildRemove, j.no, 0, 0, j.recyclableKG, 0)
	p.log(lgTrolleyOff, j.no, 0, 0, 150+10*p.rng.Float64(), 0)
	p.log(lgCoolServo, j.no, uint16(60+p.rng.IntN(30)), 0, 18+3*p.rng.Float64(), 2+p.rng.Float64())
	p.addRecent(j)
	p.addJobEntry(j)
	p.setPhase(phaseCooling)
	p.phaseEnd = p.now.Add(j.cool)
}

// cooled ends cooling: the build unit goes to unpacking, the printer is
// free once it is back.
func (p *Printer) cooled() {
	j := p.job
	j.coolEnd = p.now
	p.ctr.coolingH += j.cool.Hours()
	p.unit.usageH += j.cool.Hours()
	p.emit(evCoolingFinished, j.no, 0, 0, 0, 0)
	p.log(lgSessionJob, j.no, 3, uint16(j.done), 0, 0)
	p.log(lgCoolServo, j.no, uint16(10+p.rng.IntN(20)), 0, 18+3*p.rng.Float64(), p.rng.Float64())
	p.addJobEntry(j)
	p.unpacking = j
	p.unpackEnd = p.now.Add(j.unpack)
	p.job = nil
	p.setPhase(phaseIdle)
	p.phaseEnd = p.unpackEnd.Add(p.between(idleMin, idleMax))
}

// unpacked ends unpacking: the parts are inspected and the job completes.
func (p *Printer) unpacked() {
	j := p.unpacking
	j.unpackEnd = p.now
	j.status = fleet.JobCompleted
	for i := range j.parts {
		if j.parts[i].outcome == fleet.PartPass {
			j.passed++
		}
	}
	p.ctr.completedJobs++
	p.unit.status = "empty"
	p.unit.kg = 0
	p.emit(evJobUnpacked, j.no, uint16(min(j.passed, 65535)), uint16(min(len(j.parts), 65535)), 0, 0)
	p.log(lgSessionJob, j.no, 4, uint16(j.done), 0, 0)
	p.log(lgPanel, 0, 3, 0, 0, 0)
	p.addJobEntry(j)
	p.unpacking, p.unpackEnd = nil, time.Time{}
	if p.phase == phaseIdle && p.phaseEnd.IsZero() && len(p.pending) > 0 {
		p.phaseEnd = p.now.Add(p.between(idleMin, idleMax))
	}
}

func (p *Printer) addRecent(j *job) {
	p.recent = append(p.recent, j)
	if len(p.recent) > p.truthJobs {
		p.recent[0] = nil
		p.recent = p.recent[1:]
	}
}

// enterError stops the printer for d. A layer in progress is abandoned and
// printed again when the printer resumes.
func (p *Printer) enterError(d time.Duration) {
	p.resume = p.phase
	p.setPhase(phaseError)
	p.phaseEnd = p.now.Add(d)
	p.nextFault = time.Time{}
	if p.job != nil && p.resume == phasePrinting {
		p.log(lgSessionJob, p.job.no, 5, uint16(p.job.done), 0, 0)
	}
}

// failComp handles a component failure: the printer stops for the repair,
// and the job fails with the component's job-fail share.
func (p *Printer) failComp(c *comp, injected bool) {
	c.failed, c.failedAt, c.injected = true, p.now, injected
	p.symptom(c, compFail)
	w := &p.tab.Wear[c.kind]
	failsJob := p.phase == phasePrinting && p.rng.Float64() < w.JobFailShare
	p.enterError(p.between(w.RepairMin, w.RepairMax))
	p.fault = activeFault{transient: -1, comp: c, since: p.now}
	if failsJob {
		p.failJob(p.evt[evCompBase+uint16(c.kind*compEventCount+compFail)].Code)
	}
}

// failJob aborts the current job.
func (p *Printer) failJob(code string) {
	j := p.job
	j.finished = p.now
	j.status = fleet.JobFailed
	for i := range j.parts {
		j.parts[i].outcome = fleet.PartNotPrinted
	}
	var tmpl uint16
	for i, t := range p.evt {
		if t.Code == code {
			tmpl = uint16(i)
		}
	}
	p.emit(evJobFailed, j.no, uint16(j.done), 0, 0, 0)
	p.log(lgSessionFailed, j.no, tmpl, uint16(j.done), 0, 0)
	p.unit.status = "empty"
	p.addRecent(j)
	p.addJobEntry(j)
	p.job = nil
	p.resume = phaseIdle
}

// faultDue raises a transient fault if the printer is idle or printing; a
// cooling build unit sits outside the printer's mechanics, so the fault is
// put off.
func (p *Printer) faultDue() {
	if p.phase != phaseIdle && p.phase != phasePrinting {
		p.nextFault = p.now.Add(p.exp(meanFaultGap))
		return
	}
	i := p.rng.IntN(len(p.tab.Faults))
	f := p.tab.Faults[i]
	var jobNo, layer, layers uint16
	if p.phase == phasePrinting {
		jobNo, layer, layers = p.job.no, uint16(p.job.done+1), uint16(p.job.layers)
	}
	p.emit(evTransientBase(len(p.tab.Wear))+uint16(i), jobNo, layer, layers, 0, 0)
	p.enterError(p.between(f.Min, f.Max))
	p.fault = activeFault{transient: i, since: p.now}
}

func (p *Printer) faultDescription() string {
	if p.fault.comp != nil {
		return p.tab.Wear[p.fault.comp.kind].Component + " " + p.compName(p.fault.comp.kind, p.fault.comp.slot) + " failed"
	}
	return p.tab.Faults[p.fault.transient].Description
}

func (p *Printer) clearFault() {
	if c := p.fault.comp; c != nil {
		p.emit(evRepairDone, 0, uint16(c.kind), uint16(c.slot), p.now.Sub(p.fault.since).Minutes(), 0)
		p.replace(c)
	} else {
		p.emit(evFaultCleared, 0, uint16(p.fault.transient), 0, 0, 0)
	}
	p.fault = activeFault{}
	p.nextFault = p.now.Add(p.exp(meanFaultGap))
	if p.resume == phasePrinting && p.job != nil {
		p.setPhase(phasePrinting)
		p.log(lgSessionJob, p.job.no, 6, uint16(p.job.done), 0, 0)
		p.startLayer()
		return
	}
	p.setPhase(phaseIdle)
	p.phaseEnd = p.now.Add(p.between(prepMin, prepMax))
}

// arrive handles a job submission: queued if there is room, else refused
// by the submitting application (and not seen by the printer).
func (p *Printer) arrive() {
	p.nextArrival = p.now.Add(p.exp(meanArrival))
	if len(p.pending) >= maxPending {
		return
	}
	p.enqueue(p.randomJob())
	p.wake()
}

// wake schedules the start of a job when an idle printer waits for one.
func (p *Printer) wake() {
	if p.phase == phaseIdle && p.phaseEnd.IsZero() {
		p.phaseEnd = p.now.Add(p.between(prepMin, prepMax))
	}
}

// sample writes the periodic readings.
func (p *Printer) sample() {
	p.nextSample = p.now.Add(sampleEvery)
	p.log(lgMemory, 0, uint16(64+p.rng.IntN(512)), 0, float64(2048+p.rng.IntN(4096)), 0)
	if p.phase != phasePrinting {
		p.sensorLog(false)
	}
}

// sensorLog writes one sensor reading: hot while printing, near room
// temperature otherwise.
func (p *Printer) sensorLog(printing bool) {
	bed, chamber := 22+2*p.rng.Float64(), 23+2*p.rng.Float64()
	if printing {
		bed, chamber = 168+3*p.rng.NormFloat64(), 38+2*p.rng.NormFloat64()
	}
	p.log(lgSensors, 0, uint16(30+p.rng.IntN(25)), uint16(p.rng.IntN(100)), bed, chamber)
	if printing {
		p.log(lgCoolServo, 0, uint16(40+p.rng.IntN(50)), 0, 18+3*p.rng.Float64(), 1+2*p.rng.Float64())
	}
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
