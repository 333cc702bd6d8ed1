package printer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Simulation control, for tests and demos only: inject faults, change the
// site's supplies, queue job files, and read the hidden ground truth that
// analytics are scored against. None of it is part of the device API.

// FaultRequest is POST /sim/v1/faults: break or wear down a component now.
type FaultRequest struct {
	// Component is printhead, lamp, filter, cooling or carriage.
	Component string `json:"component"`
	// Slot is the printhead slot, 1-based (printheads only).
	Slot int `json:"slot,omitempty"`
	// Position is the lamp position: fusing-1, fusing-2, warming (lamps only).
	Position string `json:"position,omitempty"`
	// Mode is degrade-fast (the component wears several times faster from
	// now on) or fail-now (it fails at once).
	Mode string `json:"mode"`
}

// SupplyRequest is POST /sim/v1/supplies: what the site feeds the printer.
// Exactly one of Agent and Powder is set. An agent setting inserts a new
// cartridge of that kind now, and later cartridges follow it; a powder
// setting applies to the next build.
type SupplyRequest struct {
	Agent       string `json:"agent,omitempty"` // fusing, detailing, cyan, magenta, yellow, black
	Powder      bool   `json:"powder,omitempty"`
	NonOriginal bool   `json:"non_original"`
	Expired     bool   `json:"expired"`
}

// JobFile is POST /sim/v1/jobs: jobs as a build preparation tool sends them.
type JobFile struct {
	Jobs []JobSpec `json:"jobs"`
}

// JobSpec is one job of a job file. Names are private, as on a real printer.
type JobSpec struct {
	Name      string     `json:"name"`
	User      string     `json:"user"`
	Host      string     `json:"host"`
	Material  string     `json:"material"`   // PA12 (default), PA11, PA12 GB, TPU, PP
	PrintMode string     `json:"print_mode"` // balanced (default), fast, robust
	Parts     []PartSpec `json:"parts"`
}

// PartSpec is one part of a job file.
type PartSpec struct {
	Name        string     `json:"name"`
	GeometryRef string     `json:"geometry_ref"`
	SizeMM      fleet.Vec3 `json:"size_mm"`
	VolumeCM3   float64    `json:"volume_cm3"`
}

// QueueResult answers a job file: the random IDs of the queued jobs.
type QueueResult struct {
	JobIDs []string `json:"job_ids"`
}

// Truth is GET /sim/v1/truth: the hidden ground truth.
type Truth struct {
	PrinterID  fleet.PrinterID  `json:"printer_id"`
	Time       time.Time        `json:"time"`
	Components []ComponentTruth `json:"components"` // installed, then recently replaced
	Jobs       []JobTruth       `json:"jobs"`       // recently printed or failed, oldest first
}

// ComponentTruth is the hidden state of one component instance.
type ComponentTruth struct {
	Component string    `json:"component"`
	Position  string    `json:"position"`
	Serial    string    `json:"serial"`
	Installed bool      `json:"installed"`
	Since     time.Time `json:"since"`
	Removed   time.Time `json:"removed,omitzero"`
	// Health is 1 - wear/life: 1 new, 0 at failure.
	Health     float64 `json:"health"`
	UsageHours float64 `json:"usage_hours"`
	WearHours  float64 `json:"wear_hours"` // usage at the nominal rate spent
	LifeHours  float64 `json:"life_hours"` // wear at which it fails
	WearRate   float64 `json:"wear_rate"`  // multiplier now in effect
	// WarnAtHours is the wear at which the warning fires; Silent when the
	// failure gives none.
	WarnAtHours float64   `json:"warn_at_hours"`
	Silent      bool      `json:"silent"`
	WarnedAt    time.Time `json:"warned_at,omitzero"`
	Failed      bool      `json:"failed"`
	FailedAt    time.Time `json:"failed_at,omitzero"`
	Injected    bool      `json:"injected"` // failed by an injected fault, not the hazard
	// CumulativeHazard is the Weibull hazard spent by this instance: summed
	// over instances it is the expected number of natural failures.
	CumulativeHazard float64 `json:"cumulative_hazard"`
	// NextFailure is when an installed component would fail if the printer
	// printed without a break from now on; zero for removed ones.
	NextFailure time.Time `json:"next_failure,omitzero"`
}

// JobTruth is the quality model's inputs and outputs for one job.
type JobTruth struct {
	JobID             string          `json:"job_id"`
	Status            fleet.JobStatus `json:"status"`
	Material          string          `json:"material"`
	PrintMode         string          `json:"print_mode"`
	RecycledShare     float64         `json:"recycled_share"`
	PowderAgeCycles   float64         `json:"powder_age_cycles"`
	Density           float64         `json:"density"`
	HeadHealth        float64         `json:"head_health"`
	LampIntensity     float64         `json:"lamp_intensity"`
	NonOriginalPowder bool            `json:"non_original_powder"`
	ExpiredPowder     bool            `json:"expired_powder"`
	Parts             []PartTruth     `json:"parts"`
}

// PartTruth is one part's drawn outcome and its probabilities.
type PartTruth struct {
	PartID       string            `json:"part_id"`
	NearWall     bool              `json:"near_wall"`
	NearTop      bool              `json:"near_top"`
	PPass        float64           `json:"p_pass"`
	PDimensional float64           `json:"p_dimensional"`
	PPorosity    float64           `json:"p_porosity"`
	PWarp        float64           `json:"p_warp"`
	Outcome      fleet.PartOutcome `json:"outcome"`
}

// InjectFault breaks or wears down a component now. It returns an error
// wrapping ErrInvalid for a bad request and ErrBusy when a failure cannot be
// injected in the printer's present state (cooling or already stopped).
func (p *Printer) InjectFault(req FaultRequest) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	kind := -1
	for i, w := range p.tab.Wear {
		if w.Component == req.Component {
			kind = i
		}
	}
	if kind < 0 {
		return fmt.Errorf("fault: unknown component %q (want printhead, lamp, filter, cooling or carriage): %w", req.Component, ErrInvalid)
	}
	slot := 0
	switch kind {
	case wkPrinthead:
		if req.Slot < 1 || req.Slot > p.spec.Printheads {
			return fmt.Errorf("fault: printhead slot %d: want 1 to %d: %w", req.Slot, p.spec.Printheads, ErrInvalid)
		}
		slot = req.Slot - 1
	case wkLamp:
		slot = -1
		for i, pos := range lampPositions {
			if pos == req.Position {
				slot = i
			}
		}
		if slot < 0 {
			return fmt.Errorf("fault: lamp position %q: want fusing-1, fusing-2 or warming: %w", req.Position, ErrInvalid)
		}
	}
	var c *comp
	for _, x := range p.comps {
		if x.kind == kind && x.slot == slot {
			c = x
		}
	}
	switch req.Mode {
	case "degrade-fast":
		c.rate *= degradeFastWear
		return nil
	case "fail-now":
		if p.phase != phaseIdle && p.phase != phasePrinting {
			return fmt.Errorf("fault: printer is %s, not idle or printing: %w", phaseNames(p.phase), ErrBusy)
		}
		if p.phase == phaseIdle && p.phaseEnd.IsZero() {
			// An idle printer waiting for a job resumes waiting after the repair.
			p.phaseEnd = p.now
		}
		p.failComp(c, true)
		return nil
	}
	return fmt.Errorf("fault: unknown mode %q (want degrade-fast or fail-now): %w", req.Mode, ErrInvalid)
}

// SetSupply changes what the site feeds the printer.
func (p *Printer) SetSupply(req SupplyRequest) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	if req.Powder == (req.Agent != "") {
		return fmt.Errorf("supply: set exactly one of agent and powder: %w", ErrInvalid)
	}
	if req.Powder {
		p.powder = supply{nonOriginal: req.NonOriginal, expired: req.Expired}
		return nil
	}
	for i, a := range p.tab.Agents {
		if a.Name == req.Agent {
			p.agentSupply[i] = supply{nonOriginal: req.NonOriginal, expired: req.Expired}
			p.newCartridge(i)
			return nil
		}
	}
	return fmt.Errorf("supply: unknown agent %q: %w", req.Agent, ErrInvalid)
}

// QueueJobs lays out and queues the jobs of a job file, all or none.
func (p *Printer) QueueJobs(f JobFile) (QueueResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	if len(f.Jobs) == 0 {
		return QueueResult{}, fmt.Errorf("jobs: empty job file: %w", ErrInvalid)
	}
	if len(p.pending)+len(f.Jobs) > maxQueued {
		return QueueResult{}, fmt.Errorf("jobs: %d queued, room for %d more: %w", len(p.pending), maxQueued-len(p.pending), ErrBusy)
	}
	jobs := make([]*job, 0, len(f.Jobs))
	for _, spec := range f.Jobs {
		j, err := p.jobFromSpec(spec)
		if err != nil {
			return QueueResult{}, fmt.Errorf("jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	res := QueueResult{JobIDs: []string{}}
	for _, j := range jobs {
		p.enqueue(j)
		res.JobIDs = append(res.JobIDs, j.id)
	}
	p.wake()
	return res, nil
}

// Truth returns the hidden ground truth.
func (p *Printer) Truth() Truth {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	t := Truth{PrinterID: p.id, Time: p.now, Components: []ComponentTruth{}, Jobs: []JobTruth{}}
	for _, c := range p.comps {
		t.Components = append(t.Components, p.compTruth(c, true))
	}
	for _, c := range p.history {
		t.Components = append(t.Components, p.compTruth(c, false))
	}
	for _, j := range p.recent {
		jt := JobTruth{
			JobID: j.id, Status: j.status, Material: p.tab.Materials[j.material].Name, PrintMode: p.tab.Modes[j.mode].Name,
			RecycledShare: j.recycled, PowderAgeCycles: j.age, Density: j.density, HeadHealth: j.headHealth,
			LampIntensity: j.lampIntn, NonOriginalPowder: j.nonOrigPowder, ExpiredPowder: j.expiredPowder,
			Parts: make([]PartTruth, len(j.parts)),
		}
		for i, pt := range j.parts {
			jt.Parts[i] = PartTruth{PartID: pt.id, NearWall: pt.nearWall, NearTop: pt.nearTop, PPass: pt.pPass,
				PDimensional: pt.pDim, PPorosity: pt.pPor, PWarp: pt.pWarp, Outcome: pt.outcome}
		}
		t.Jobs = append(t.Jobs, jt)
	}
	return t
}

func (p *Printer) compTruth(c *comp, installed bool) ComponentTruth {
	ct := ComponentTruth{
		Component: p.tab.Wear[c.kind].Component, Position: p.compName(c.kind, c.slot), Serial: c.serial,
		Installed: installed, Since: c.installed, Removed: c.removed,
		Health: max(1-c.wear/c.life, 0), UsageHours: c.used, WearHours: c.wear, LifeHours: c.life, WearRate: c.rate,
		WarnAtHours: c.warnAt, Silent: math.IsInf(c.warnAt, 1), WarnedAt: c.warnedAt,
		Failed: c.failed, FailedAt: c.failedAt, Injected: c.injected, CumulativeHazard: p.hazard(c),
	}
	if ct.Silent {
		ct.WarnAtHours = c.life
	}
	if c.injected {
		ct.CumulativeHazard = 0 // its end was not drawn from the hazard
	}
	if installed && !c.failed {
		rate := c.rate
		if c.kind == wkPrinthead {
			a, b := headAgents(c.slot)
			if p.agents[a].nonOrig || p.agents[b].nonOrig {
				rate *= nonOriginalAgentWear
			}
			if p.agents[a].expired || p.agents[b].expired {
				rate *= expiredAgentWear
			}
		}
		ct.NextFailure = p.now.Add(time.Duration((c.life - c.wear) / rate * float64(time.Hour)))
	}
	return ct
}

// maxControlBody bounds control request bodies: a job file of 500 parts
// per job fits many times over.
const maxControlBody = 1 << 20

// NewControlHandler returns the simulation control handler for p. Every
// answer is JSON, errors included ({"error": "..."}).
func NewControlHandler(p *Printer, logger *slog.Logger) http.Handler {
	logger = logger.With("component", "printer-sim-control")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sim/v1/faults", func(w http.ResponseWriter, r *http.Request) {
		var req FaultRequest
		if !decode(w, r, logger, &req) {
			return
		}
		if err := p.InjectFault(req); err != nil {
			writeError(w, logger, err)
			return
		}
		encode(w, logger, http.StatusOK, struct {
			OK bool `json:"ok"`
		}{true})
	})
	mux.HandleFunc("POST /sim/v1/supplies", func(w http.ResponseWriter, r *http.Request) {
		var req SupplyRequest
		if !decode(w, r, logger, &req) {
			return
		}
		if err := p.SetSupply(req); err != nil {
			writeError(w, logger, err)
			return
		}
		encode(w, logger, http.StatusOK, struct {
			OK bool `json:"ok"`
		}{true})
	})
	mux.HandleFunc("POST /sim/v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		var f JobFile
		if !decode(w, r, logger, &f) {
			return
		}
		res, err := p.QueueJobs(f)
		if err != nil {
			writeError(w, logger, err)
			return
		}
		encode(w, logger, http.StatusOK, res)
	})
	mux.HandleFunc("GET /sim/v1/truth", func(w http.ResponseWriter, r *http.Request) {
		encode(w, logger, http.StatusOK, p.Truth())
	})
	for path, method := range map[string]string{"/sim/v1/faults": "POST", "/sim/v1/supplies": "POST", "/sim/v1/jobs": "POST", "/sim/v1/truth": "GET"} {
		// Less specific than the routes above, so it only catches the
		// other methods: a JSON 405 instead of ServeMux's plain text.
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", method)
			encode(w, logger, http.StatusMethodNotAllowed, errorBody{Error: fmt.Sprintf("method %s not allowed on %s", r.Method, path)})
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		encode(w, logger, http.StatusNotFound, errorBody{Error: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxControlBody)
		mux.ServeHTTP(w, r)
	})
}

// decodeRequest decodes exactly one JSON value with no unknown fields.
func decodeRequest(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	if dec.More() {
		return errors.New("request body: trailing data after the JSON value")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return errors.New("request body: trailing data after the JSON value")
	}
	return nil
}

func decode(w http.ResponseWriter, r *http.Request, logger *slog.Logger, v any) bool {
	if err := decodeRequest(r.Body, v); err != nil {
		status := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status = http.StatusRequestEntityTooLarge
		}
		encode(w, logger, status, errorBody{Error: err.Error()})
		return false
	}
	return true
}

type errorBody struct {
	Error string `json:"error"`
}

// writeError maps an error to its status, once, here.
func writeError(w http.ResponseWriter, logger *slog.Logger, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, ErrBusy):
		status = http.StatusConflict
	default:
		logger.Error("sim control failed", "err", err)
	}
	encode(w, logger, status, errorBody{Error: err.Error()})
}

func encode(w http.ResponseWriter, logger *slog.Logger, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		logger.Error("encode answer", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
