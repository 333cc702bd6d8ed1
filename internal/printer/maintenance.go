package printer

import (
	"fmt"
	"sync"
)

// BeginUpdate reserves the printer for installing an update, as a real
// printer enters its maintenance state: it succeeds only while no job is
// printing, cooling or interrupted by a fault, and from then until end is
// called no queued job starts, so firmware never changes under a build.
// The error wraps ErrBusy. end may be called more than once.
func (p *Printer) BeginUpdate() (end func(), err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	switch {
	case p.phase == phasePrinting:
		return nil, fmt.Errorf("%w: printing job %d", ErrBusy, p.job.no)
	case p.phase == phaseCooling:
		return nil, fmt.Errorf("%w: job %d is cooling in the build unit", ErrBusy, p.job.no)
	case p.phase == phaseError:
		return nil, fmt.Errorf("%w: stopped by a fault (%s)", ErrBusy, p.faultDescription())
	case p.updating:
		return nil, fmt.Errorf("%w: another update is being installed", ErrBusy)
	}
	p.updating = true
	var once sync.Once
	return func() { once.Do(p.endUpdate) }, nil
}

// endUpdate ends the maintenance state; a job that waited starts now.
func (p *Printer) endUpdate() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	p.updating = false
	if p.phase == phaseIdle && p.phaseEnd.IsZero() && p.unpacking == nil && len(p.pending) > 0 {
		p.phaseEnd = p.now
	}
}
