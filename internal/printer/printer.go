package printer

import (
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

var _ deviceapi.Device = (*Printer)(nil)

// Options configure a Printer. The zero value works.
type Options struct {
	// Name is the printer's own name, e.g. "3DP 1". Zero means "Printer "
	// and the end of the serial number.
	Name string
	// Model is "4200" or "5200" (or "FF-4200", "FF-5200"). Zero means
	// "4200". New treats an unknown model as "4200"; call Validate first to
	// refuse it instead.
	Model string
	// Seed makes the printer: its UUID, serial number and whole history.
	Seed int64
	// Clock is the time the simulation follows. Zero means clock.Real{}.
	Clock clock.Clock
	// Firmware is the firmware release reported. Zero means the model's.
	Firmware string
	// EventCapacity is how many events the printer keeps for readers.
	// Zero means 10,000; older events are gone, so a slow reader sees a gap.
	EventCapacity int
}

const defaultEventCapacity = 10_000

// Validate reports whether the options name a known model.
func (o Options) Validate() error {
	_, err := specFor(o.Model)
	return err
}

func specFor(model string) (processSpec, error) {
	if model == "" {
		model = "4200"
	}
	var known []string
	for _, s := range processTable() {
		if model == s.Model || model == strings.TrimPrefix(s.Model, "FF-") {
			return s, nil
		}
		known = append(known, strings.TrimPrefix(s.Model, "FF-"))
	}
	return processSpec{}, fmt.Errorf("printer model %q: want one of %s", model, strings.Join(known, ", "))
}

// phase is what the simulated printer is doing.
type phase uint8

const (
	phaseIdle phase = iota
	phasePrinting
	phaseCooling
	phaseError
)

// job is a print job as the simulation tracks it.
type job struct {
	id, name, user, host string
	heightMM, density    float64
	layers               int
	planned              time.Duration // the layer time the printer expects
	actual               time.Duration // the layer time the job really takes, on average
	cool                 time.Duration // how long the build unit will cool
	done                 int           // layers finished
	sum                  time.Duration // their total time
	layerDur             time.Duration // the current layer's length
}

// Printer is a virtual printer. It is safe for concurrent use.
type Printer struct {
	spec     processSpec
	clk      clock.Clock
	id       fleet.PrinterID
	serial   string
	name     string
	firmware string
	instance string
	started  time.Time

	mu          sync.Mutex
	rng         *rand.Rand
	now         time.Time // the time the model has advanced to
	phase       phase
	phaseEnd    time.Time // when the phase (or the current layer) ends; zero: waits for a job
	job         *job      // printing, cooling, or paused by a fault
	pending     []*job
	nextArrival time.Time
	nextFault   time.Time // zero while a fault is active
	fault       faultKind
	resume      phase         // the phase a fault interrupted
	paused      time.Duration // what was left of the layer a fault interrupted
	events      eventRing
}

// New returns a printer that starts idle at opts.Clock's now, with a few
// jobs queued.
func New(opts Options) *Printer {
	spec, err := specFor(opts.Model)
	if err != nil {
		spec = processTable()[0]
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Firmware == "" {
		opts.Firmware = spec.Firmware
	}
	if opts.EventCapacity <= 0 {
		opts.EventCapacity = defaultEventCapacity
	}
	// Identity and history draw from separate streams, so changing the
	// simulation never changes a printer's UUID or serial number.
	idRng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x1d))
	serial := spec.ModelNumber[:4] + randomCode(idRng, 8)
	if opts.Name == "" {
		opts.Name = "Printer " + serial[len(serial)-4:]
	}
	now := opts.Clock.Now()
	p := &Printer{
		spec:     spec,
		clk:      opts.Clock,
		id:       randomUUID(idRng),
		serial:   serial,
		name:     opts.Name,
		firmware: opts.Firmware,
		instance: crand.Text(),
		started:  now,
		rng:      rand.New(rand.NewPCG(uint64(opts.Seed), 0x51)),
		now:      now,
		events:   eventRing{capacity: opts.EventCapacity, next: 1},
	}
	for range 1 + p.rng.IntN(maxPending) {
		p.enqueue()
	}
	// Start within the hour, so printers with different seeds drift apart.
	p.phaseEnd = now.Add(p.between(prepMin, time.Hour))
	p.nextArrival = now.Add(p.exp(meanArrival))
	p.nextFault = now.Add(p.exp(meanFaultGap))
	return p
}

// Identity returns the printer's identification.
func (p *Printer) Identity() deviceapi.Identity {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	b := p.spec.BuildMM
	return deviceapi.Identity{
		Identity: fleet.Identity{
			PrinterID:    p.id,
			Name:         p.name,
			Model:        p.spec.Model,
			ModelNumber:  p.spec.ModelNumber,
			SerialNumber: p.serial,
			Firmware:     p.firmware,
			Size:         fmt.Sprintf("%gx%gx%g mm", b[0], b[1], b[2]),
			DiskBytes:    p.spec.DiskBytes,
			MemoryBytes:  p.spec.MemoryBytes,
			Date:         p.now,
			UptimeSec:    int64(p.now.Sub(p.started) / time.Second),
		},
		Instance: p.instance,
	}
}

// Status returns what the printer is doing now.
func (p *Printer) Status() deviceapi.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	s := deviceapi.Status{PendingJobs: len(p.pending), Time: p.now}
	switch p.phase {
	case phaseIdle:
		s.State, s.Activity = fleet.StateIdle, "idle"
	case phasePrinting:
		s.State = fleet.StatePrinting
		s.Activity = fmt.Sprintf("printing layer %d of %d", p.job.done+1, p.job.layers)
		s.Job, s.ETCSeconds = p.printingJob(p.phaseEnd.Sub(p.now))
	case phaseCooling:
		s.State, s.Activity = fleet.StateCooling, "cooling"
		s.Job = p.wireJob(1)
		s.ETCSeconds = ceilSeconds(p.phaseEnd.Sub(p.now))
	case phaseError:
		s.State, s.Activity = fleet.StateError, "error: "+p.fault.Description
		if p.job != nil {
			s.Job, s.ETCSeconds = p.printingJob(p.paused)
		}
	}
	return s
}

// printingJob returns the current job and the estimated time to finish it,
// given what is left of the current layer. The estimate is what a printer
// can know: the layers left times the running mean layer time (weighted
// with the job's planned layer time while few layers are done), less the
// time already spent on the current layer.
func (p *Printer) printingJob(layerLeft time.Duration) (*deviceapi.Job, int64) {
	j := p.job
	elapsed := j.layerDur - layerLeft
	frac := float64(elapsed) / float64(j.layerDur)
	mean := (planPriorLayers*j.planned + j.sum) / time.Duration(planPriorLayers+j.done)
	etc := time.Duration(j.layers-j.done)*mean - elapsed
	return p.wireJob(min((float64(j.done)+frac)/float64(j.layers), 1)), ceilSeconds(max(etc, 0))
}

func (p *Printer) wireJob(progress float64) *deviceapi.Job {
	j := p.job
	return &deviceapi.Job{
		ID: j.id, Name: j.name, User: j.user, Host: j.host,
		Progress: progress, LayersDone: j.done, LayersTotal: j.layers,
	}
}

func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// Events returns the events with Seq > after, oldest first, at most limit.
func (p *Printer) Events(after uint64, limit int) deviceapi.EventPage {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	evs, next := p.events.page(after, limit)
	return deviceapi.EventPage{Instance: p.instance, Events: evs, Next: next, First: p.events.first()}
}

// randomCode returns n random characters from A-Z and 0-9.
func randomCode(r *rand.Rand, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// randomUUID returns a version 4 UUID drawn from r.
func randomUUID(r *rand.Rand) fleet.PrinterID {
	var u [16]byte
	for i := range u {
		u[i] = byte(r.Uint32())
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fleet.PrinterID(fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]))
}
