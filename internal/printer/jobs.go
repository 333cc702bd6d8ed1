package printer

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// job is a print job as the simulation tracks it.
type job struct {
	id                   string
	no                   uint16
	name, user, host     string // private
	sourceApp, paramSet  string
	created, prepStart   time.Time
	started, finished    time.Time // printing
	coolEnd, unpackEnd   time.Time
	material, mode       int
	recycled, age        float64 // powder: recycled share, mean reuse cycles
	nonOrigPowder        bool
	expiredPowder        bool
	heightMM, density    float64
	layerMM              float64
	volCM3, surfCM2      float64
	bbox                 fleet.Box
	powderKG, partsKG    float64
	recyclableKG         float64
	layers, done         int
	planned, actual      time.Duration // the layer time the printer expects / the job really takes
	cool, unpack         time.Duration
	sum                  time.Duration // printed layers' total time
	layerDur             time.Duration // the current layer's length
	parts                []part
	byFirst, byLast      []int // part indices by first and last layer
	nextFirst, nextLast  int
	areaMM2              float64 // fused area of the current layer
	warnings             []fleet.JobWarning
	status               fleet.JobStatus
	headHealth, lampIntn float64 // quality inputs at the end of printing
	passed               int
}

// part is a part of a job.
type part struct {
	id, name, geo     string // name and geo are private
	box               fleet.Box
	volCM3, surfCM2   float64
	grams             float64
	first, last       int // layer indices
	printStart        time.Time
	printEnd          time.Time
	outcome           fleet.PartOutcome // hidden until unpacked
	nearWall, nearTop bool
	pPass, pDim, pPor float64
	pWarp             float64
}

// jobEntry is one entry of the jobs feed: a job as it was at one change.
type jobEntry struct {
	j      *job
	ns     int64 // Unix nanoseconds
	sum    time.Duration
	status fleet.JobStatus
	done   uint16
	nWarn  uint8
}

// Errors of the simulation control.
var (
	// ErrInvalid marks a request that cannot be carried out as given.
	ErrInvalid = errors.New("invalid request")
	// ErrBusy marks a request the printer cannot take in its present state.
	ErrBusy = errors.New("printer busy")
)

var partFamilies = [...]string{"bracket", "housing", "impeller", "duct", "insole", "gripper", "mount", "hinge", "manifold", "lattice", "clip", "cover"}

// randomJob draws a job as a customer's build preparation would send it:
// a material, a mode, a build height and a target packing density, and
// parts laid out until the target is reached.
func (p *Printer) randomJob() *job {
	users := [...]string{"mkeller", "jsato", "a.novak", "lbrandt", "rpatel", "schen", "oduarte", "kwalsh"}
	hosts := [...]string{"CAD-WS-07", "ENG-LAPTOP-12", "PREP-PC-02", "DESIGN-WS-03", "AM-STATION-01"}
	s := p.spec
	matW := [...]float64{0.55, 0.15, 0.10, 0.10, 0.10}
	mat := pick(p.rng.Float64(), matW[:])
	modeW := make([]float64, len(p.tab.Modes))
	for i, m := range p.tab.Modes {
		modeW[i] = m.Share
	}
	mode := p.planMode(mat, pick(p.rng.Float64(), modeW))
	height := minHeightMM + (s.BuildMM[2]-minHeightMM)*p.rng.Float64()
	density := minDensity + (maxDensity-minDensity)*p.rng.Float64()
	densityMax := p.materialParams(mat).DensityMax
	if densityMax > 0 {
		density = min(density, densityMax)
	}
	target := density * s.BuildMM[0] * s.BuildMM[1] * height / 1000
	family := p.rng.IntN(len(partFamilies))
	j := &job{
		name: fmt.Sprintf("%s batch %d", partFamilies[family], 1+p.rng.IntN(40)),
		user: users[p.rng.IntN(len(users))], host: hosts[p.rng.IntN(len(hosts))],
		material: mat, mode: mode,
	}
	pk := newPacker(s.BuildMM, height)
	var vol float64
	for n := 0; vol < target && n < 60; n++ {
		zMax := min(150, height-2*wallMarginMM)
		size := fleet.Vec3{X: 20 + 140*p.rng.Float64(), Y: 20 + 140*p.rng.Float64(), Z: min(10+140*p.rng.Float64(), zMax)}
		box, ok := pk.place(size)
		if !ok {
			break
		}
		fill := 0.15 + 0.4*p.rng.Float64()
		pv := fill * box.VolumeMM3() / 1000
		f := (family + p.rng.IntN(3)) % len(partFamilies)
		j.parts = append(j.parts, part{
			name: fmt.Sprintf("%s-v%d.%d", partFamilies[f], 1+p.rng.IntN(9), p.rng.IntN(10)),
			box:  box, volCM3: round(pv, 2), surfCM2: round(surfaceCM2(pv, fill), 1),
		})
		j.parts[len(j.parts)-1].geo = "parts/" + j.parts[len(j.parts)-1].name + ".3mf"
		vol += pv
	}
	// The ceiling holds for the finished layout too: the build ends at
	// its top part, which may pack it denser than the target.
	for densityMax > 0 && len(j.parts) > 1 && layoutDensity(s.BuildMM, j.parts) > densityMax {
		j.parts = j.parts[:len(j.parts)-1]
	}
	p.finishJob(j, "Build Manager 5.1")
	return j
}

// layoutDensity is the packing density of parts laid out in a build of
// the given volume, as finishJob computes it.
func layoutDensity(build [3]float64, parts []part) float64 {
	var top, vol float64
	for _, pt := range parts {
		top = max(top, pt.box.Max.Z)
		vol += pt.volCM3
	}
	return vol / (build[0] * build[1] * round(top+wallMarginMM, 2) / 1000)
}

// pick returns the index chosen by u in [0,1) among weights.
func pick(u float64, w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	u *= sum
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// surfaceCM2 estimates a part's surface from its volume: a sphere's
// surface scaled up for thin, open shapes (low fill of the bounding box).
func surfaceCM2(volCM3, fill float64) float64 {
	return 4.836 * math.Pow(volCM3, 2.0/3) * (1.3 + 2*(1-fill))
}

// packer lays out part boxes in shelves: rows along x, rows stacked along
// y, levels stacked along z.
type packer struct {
	build                 [3]float64
	maxZ                  float64
	x, y, z, rowD, levelH float64
}

func newPacker(build [3]float64, height float64) *packer {
	return &packer{build: build, maxZ: height - wallMarginMM, x: wallMarginMM, y: wallMarginMM, z: wallMarginMM}
}

func (k *packer) place(s fleet.Vec3) (fleet.Box, bool) {
	if s.X <= 0 || s.Y <= 0 || s.Z <= 0 || s.X > k.build[0]-2*wallMarginMM || s.Y > k.build[1]-2*wallMarginMM {
		return fleet.Box{}, false
	}
	if k.x+s.X > k.build[0]-wallMarginMM { // next row
		k.x, k.y, k.rowD = wallMarginMM, k.y+k.rowD+gapMM, 0
	}
	if k.y+s.Y > k.build[1]-wallMarginMM { // next level
		k.x, k.y, k.rowD = wallMarginMM, wallMarginMM, 0
		k.z, k.levelH = k.z+k.levelH+gapMM, 0
	}
	if k.z+s.Z > k.maxZ {
		return fleet.Box{}, false
	}
	b := fleet.Box{Min: fleet.Vec3{X: k.x, Y: k.y, Z: k.z}, Max: fleet.Vec3{X: k.x + s.X, Y: k.y + s.Y, Z: k.z + s.Z}}
	b = fleet.Box{Min: roundVec(b.Min), Max: roundVec(b.Max)}
	k.x += s.X + gapMM
	k.rowD = max(k.rowD, s.Y)
	k.levelH = max(k.levelH, s.Z)
	return b, true
}

func roundVec(v fleet.Vec3) fleet.Vec3 {
	return fleet.Vec3{X: round(v.X, 2), Y: round(v.Y, 2), Z: round(v.Z, 2)}
}

// finishJob derives a laid-out job's height, layers, density, times and
// IDs, and names its parts.
func (p *Printer) finishJob(j *job, app string) {
	s := p.spec
	j.id = randomCode(p.rng, 12)
	j.sourceApp = app
	j.paramSet = p.paramSet
	j.created = p.now
	j.status = fleet.JobQueued
	var top float64
	for i := range j.parts {
		pt := &j.parts[i]
		pt.id = randomCode(p.rng, 12)
		top = max(top, pt.box.Max.Z)
		j.volCM3 += pt.volCM3
		j.surfCM2 += pt.surfCM2
		pt.grams = round(pt.volCM3*p.tab.Materials[j.material].PartGPerCM3, 1)
		j.partsKG += pt.grams / 1000
		if i == 0 {
			j.bbox = pt.box
		}
		j.bbox.Min = fleet.Vec3{X: min(j.bbox.Min.X, pt.box.Min.X), Y: min(j.bbox.Min.Y, pt.box.Min.Y), Z: min(j.bbox.Min.Z, pt.box.Min.Z)}
		j.bbox.Max = fleet.Vec3{X: max(j.bbox.Max.X, pt.box.Max.X), Y: max(j.bbox.Max.Y, pt.box.Max.Y), Z: max(j.bbox.Max.Z, pt.box.Max.Z)}
	}
	j.heightMM = round(top+wallMarginMM, 2)
	j.layerMM = p.layerMM(j.material)
	j.layers = int(math.Ceil(j.heightMM/j.layerMM - 1e-9))
	j.volCM3, j.surfCM2 = round(j.volCM3, 2), round(j.surfCM2, 1)
	j.density = j.volCM3 / (s.BuildMM[0] * s.BuildMM[1] * j.heightMM / 1000)
	mat := &p.tab.Materials[j.material]
	j.powderKG = mat.BulkGPerCM3 * s.BuildMM[0] * s.BuildMM[1] * (j.heightMM + 10) / 1e6
	j.recyclableKG = round(max(j.powderKG-j.partsKG, 0)*0.92, 2)
	for i := range j.parts {
		pt := &j.parts[i]
		pt.first = int(pt.box.Min.Z/j.layerMM) + 1
		pt.last = min(max(int(math.Ceil(pt.box.Max.Z/j.layerMM)), pt.first), j.layers)
		j.byFirst = append(j.byFirst, i)
		j.byLast = append(j.byLast, i)
		pt.outcome = fleet.PartPending
	}
	sort.SliceStable(j.byFirst, func(a, b int) bool { return j.parts[j.byFirst[a]].first < j.parts[j.byFirst[b]].first })
	sort.SliceStable(j.byLast, func(a, b int) bool { return j.parts[j.byLast[a]].last < j.parts[j.byLast[b]].last })

	dnorm := min(max((j.density-minDensity)/(maxDensity-minDensity), 0), 1)
	base := s.LayerMin + time.Duration(float64(s.LayerMax-s.LayerMin)*(0.3*dnorm+0.7*p.rng.Float64()))
	j.planned = time.Duration(float64(base) * p.tab.Modes[j.mode].LayerScale)
	j.actual = time.Duration(float64(j.planned) * (1 + planError*p.rng.NormFloat64()))
	cool := s.CoolBase + time.Duration(float64(s.CoolFullHeight)*(j.heightMM/s.BuildMM[2])*(0.5+0.5*j.density/densityRef))
	j.cool = time.Duration(float64(cool) * (0.9 + 0.2*p.rng.Float64())).Round(time.Second)
	j.unpack = p.between(unpackMin, unpackMax).Round(time.Second)
}

// jobFromSpec lays out a submitted job file entry.
func (p *Printer) jobFromSpec(spec JobSpec) (*job, error) {
	mat, mode := -1, -1
	for i, m := range p.tab.Materials {
		if m.Name == spec.Material {
			mat = i
		}
	}
	for i, m := range p.tab.Modes {
		if m.Name == spec.PrintMode {
			mode = i
		}
	}
	if spec.Material == "" {
		mat = 0
	}
	if spec.PrintMode == "" {
		mode = 0
		if mat >= 0 {
			mode = p.planMode(mat, 0)
		}
	}
	switch {
	case mat < 0:
		return nil, fmt.Errorf("job %q: unknown material %q: %w", spec.Name, spec.Material, ErrInvalid)
	case mode < 0:
		return nil, fmt.Errorf("job %q: unknown print mode %q: %w", spec.Name, spec.PrintMode, ErrInvalid)
	case len(spec.Parts) == 0 || len(spec.Parts) > 500:
		return nil, fmt.Errorf("job %q: want 1 to 500 parts: %w", spec.Name, ErrInvalid)
	}
	j := &job{name: spec.Name, user: spec.User, host: spec.Host, material: mat, mode: mode}
	pk := newPacker(p.spec.BuildMM, p.spec.BuildMM[2])
	for _, ps := range spec.Parts {
		s := ps.SizeMM
		bv := s.X * s.Y * s.Z / 1000
		if !(ps.VolumeCM3 > 0) || ps.VolumeCM3 > bv {
			return nil, fmt.Errorf("job %q part %q: volume %v cm³ outside (0, %v] of its %vx%vx%v mm box: %w",
				spec.Name, ps.Name, ps.VolumeCM3, round(bv, 2), s.X, s.Y, s.Z, ErrInvalid)
		}
		box, ok := pk.place(s)
		if !ok {
			return nil, fmt.Errorf("job %q part %q: %vx%vx%v mm does not fit in the build volume: %w", spec.Name, ps.Name, s.X, s.Y, s.Z, ErrInvalid)
		}
		j.parts = append(j.parts, part{name: ps.Name, geo: ps.GeometryRef, box: box, volCM3: ps.VolumeCM3,
			surfCM2: round(surfaceCM2(ps.VolumeCM3, ps.VolumeCM3/bv), 1)})
	}
	p.finishJob(j, "job file")
	return j, nil
}

// enqueue queues a job.
func (p *Printer) enqueue(j *job) {
	j.no = p.newJobNo(j)
	p.pending = append(p.pending, j)
	p.emit(evJobQueued, j.no, uint16(j.layers), uint16(min(len(j.parts), math.MaxUint16)), 0, 0)
	p.log(lgSessionJob, j.no, 0, 0, 0, 0)
	p.addJobEntry(j)
}

// addJobEntry records the job's present state in the jobs feed.
func (p *Printer) addJobEntry(j *job) {
	p.jobs.add(jobEntry{j: j, ns: p.now.UnixNano(), sum: j.sum, status: j.status,
		done: uint16(j.done), nWarn: uint8(len(j.warnings))})
}

// drawQuality draws every part's outcome from the hidden quality model.
func (p *Printer) drawQuality(j *job) {
	q := &p.tab.Quality
	mat := &p.tab.Materials[j.material]
	var health, lamp float64
	var nh, nl int
	for _, c := range p.comps {
		switch c.kind {
		case wkPrinthead:
			health += max(1-c.wear/c.life, 0)
			nh++
		case wkLamp:
			if c.slot < 2 {
				lamp += p.condition(c) / 100
				nl++
			}
		}
	}
	j.headHealth, j.lampIntn = health/float64(nh), lamp/float64(nl)
	recEx := max(j.recycled-(1-mat.FreshShare), 0)
	ageEx := max(j.age-(1-mat.FreshShare)/mat.FreshShare, 0)
	densEx := max(j.density-q.DensityRef, 0)
	fast := 0.0
	if p.tab.Modes[j.mode].Name == "fast" {
		fast = 1
	}
	for i := range j.parts {
		pt := &j.parts[i]
		b := pt.box
		pt.nearWall = b.Min.X < q.WallMM || b.Min.Y < q.WallMM || b.Max.X > p.spec.BuildMM[0]-q.WallMM || b.Max.Y > p.spec.BuildMM[1]-q.WallMM
		pt.nearTop = b.Max.Z > j.heightMM-q.TopMM
		logit := q.Base + p.tab.Modes[j.mode].Quality + mat.Quality - q.RecycledPerShare*recEx - q.AgePerCycle*ageEx -
			q.DensityPerUnit*densEx - q.HeadHealth*(1-j.headHealth) - q.LampIntensity*(1-j.lampIntn) -
			p.layerPenalty(j.material, j.layerMM)
		if pt.nearWall {
			logit -= q.NearWall
		}
		if pt.nearTop {
			logit -= q.NearTop
		}
		if j.nonOrigPowder {
			logit -= q.NonOriginal
		}
		if j.expiredPowder {
			logit -= q.Expired
		}
		pass := 1 / (1 + math.Exp(-logit))
		wDim := 1 + 2*b2f(pt.nearWall) + fast + 3*(1-j.headHealth)
		wPor := 1 + 10*recEx + 6*(1-j.lampIntn) + 0.3*ageEx
		wWarp := 1 + 2*b2f(pt.nearTop) + 15*densEx + mat.WarpProne
		sum := wDim + wPor + wWarp
		pt.pPass = pass
		pt.pDim, pt.pPor, pt.pWarp = (1-pass)*wDim/sum, (1-pass)*wPor/sum, (1-pass)*wWarp/sum
		u := p.rng.Float64()
		switch {
		case u < pass:
			pt.outcome = fleet.PartPass
		case u < pass+pt.pDim:
			pt.outcome = fleet.PartDimensional
		case u < pass+pt.pDim+pt.pPor:
			pt.outcome = fleet.PartPorosity
		default:
			pt.outcome = fleet.PartWarp
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// outcomeDetails says in words how a part came out.
func outcomeDetails(o fleet.PartOutcome) string {
	switch o {
	case fleet.PartPass:
		return "within tolerance"
	case fleet.PartDimensional:
		return "dimensional deviation beyond tolerance"
	case fleet.PartPorosity:
		return "porosity found at inspection"
	case fleet.PartWarp:
		return "warped: flatness out of tolerance"
	case fleet.PartNotPrinted:
		return "build aborted before the part was finished"
	}
	return "awaiting unpacking and inspection"
}

// renderJob turns a feed entry into the wire form: the job as it was then.
func (p *Printer) renderJob(seq uint64, e *jobEntry) deviceapi.Job {
	j := e.j
	at := time.Unix(0, e.ns)
	seen := func(t time.Time) time.Time {
		if t.IsZero() || t.After(at) {
			return time.Time{}
		}
		return t
	}
	fj := fleet.Job{
		ID: j.id, CreatedAt: j.created, StartedAt: seen(j.started), FinishedAt: seen(j.finished),
		SourceApp: j.sourceApp, BoundingBox: j.bbox, VolumeCM3: j.volCM3, SurfaceCM2: j.surfCM2,
		Density: round(j.density, 4), LayerCount: j.layers, LayerThicknessMM: j.layerMM,
		Material: p.tab.Materials[j.material].Name, PartMaterials: []string{p.tab.Materials[j.material].Name},
		RecyclableKG: j.recyclableKG, PrintMode: p.tab.Modes[j.mode].Name, ParameterSet: j.paramSet,
		BuildUnitID: p.unit.serial, Status: e.status, LayersDone: int(e.done), PartCount: len(j.parts),
		Warnings: append([]fleet.JobWarning{}, j.warnings[:e.nWarn]...),
	}
	// Sub-jobs as they were at the entry's time.
	prep := fleet.SubJob{Kind: "preparation", Status: "pending"}
	printing := fleet.SubJob{Kind: "printing", Status: "pending"}
	cooling := fleet.SubJob{Kind: "cooling", Status: "pending"}
	unpacking := fleet.SubJob{Kind: "unpacking", Status: "pending"}
	if !fj.StartedAt.IsZero() {
		prep = doneSub("preparation", j.prepStart, j.started)
		printing = fleet.SubJob{Kind: "printing", Status: "running", Start: j.started,
			CompletionPercent: round(100*float64(e.done)/float64(j.layers), 2), DurationSec: e.sum.Seconds()}
	}
	if !fj.FinishedAt.IsZero() {
		printing.End = j.finished
		printing.Status = "done"
		if e.status == fleet.JobFailed {
			printing.Status = "failed"
		}
	}
	if e.status != fleet.JobFailed && !fj.FinishedAt.IsZero() {
		cooling = fleet.SubJob{Kind: "cooling", Status: "running", Start: j.finished}
		if end := seen(j.coolEnd); !end.IsZero() {
			cooling = doneSub("cooling", j.finished, end)
			unpacking = fleet.SubJob{Kind: "unpacking", Status: "running", Start: end}
			if uend := seen(j.unpackEnd); !uend.IsZero() {
				unpacking = doneSub("unpacking", end, uend)
			}
		}
	}
	if !fj.StartedAt.IsZero() {
		fj.RecycledShare = round(j.recycled, 3)
	}
	fj.SubJobs = []fleet.SubJob{prep, printing, cooling, unpacking}
	out := deviceapi.Job{Seq: seq, Job: fj, Private: deviceapi.JobPrivate{Name: j.name, User: j.user, Host: j.host},
		Parts: make([]deviceapi.Part, len(j.parts))}
	for i := range j.parts {
		pt := &j.parts[i]
		outcome := fleet.PartPending
		switch e.status {
		case fleet.JobCompleted:
			outcome = pt.outcome
		case fleet.JobFailed:
			outcome = fleet.PartNotPrinted
		}
		fp := fleet.Part{
			ID: pt.id, JobID: j.id, CreatedAt: j.created, ProcessingStart: seen(j.prepStart),
			PrintStart: seen(pt.printStart), PrintEnd: seen(pt.printEnd), BoundingBox: pt.box,
			VolumeCM3: pt.volCM3, SurfaceCM2: pt.surfCM2, MaterialG: pt.grams,
			Outcome: outcome, CompletionDetails: outcomeDetails(outcome),
		}
		if fp.ProcessingStart.IsZero() || fj.StartedAt.IsZero() {
			fp.ProcessingStart = time.Time{}
		}
		if e.status == fleet.JobCompleted {
			fp.ProcessingEnd = j.unpackEnd
		} else if e.status == fleet.JobFailed {
			fp.ProcessingEnd = j.finished
		}
		out.Parts[i] = deviceapi.Part{Part: fp, Private: deviceapi.PartPrivate{Name: pt.name, GeometryRef: pt.geo}}
	}
	return out
}

func doneSub(kind string, start, end time.Time) fleet.SubJob {
	return fleet.SubJob{Kind: kind, Status: "done", CompletionPercent: 100, DurationSec: end.Sub(start).Seconds(), Start: start, End: end}
}
