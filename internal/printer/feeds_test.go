package printer

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// feeds is everything a reader collected from one printer.
type feeds struct {
	Events []fleet.Event
	Jobs   []deviceapi.Job
	Layers []fleet.Layer
	Logs   map[fleet.LogKind][]fleet.LogLine
}

// reader reads every feed of a printer with cursors, as a Command Center does.
type reader struct {
	p                    *Printer
	limit                int
	events, jobs, layers uint64
	logs                 map[fleet.LogKind]uint64
	got                  feeds
}

func newReader(p *Printer, limit int) *reader {
	return &reader{p: p, limit: limit, logs: map[fleet.LogKind]uint64{},
		got: feeds{Logs: map[fleet.LogKind][]fleet.LogLine{}}}
}

// drain reads every feed to its end; it fails the test on a gap.
func (r *reader) drain(t *testing.T) {
	t.Helper()
	read := func(name string, cursor *uint64, get func(after uint64) (first, next uint64, n int, err error)) {
		for {
			first, next, n, err := get(*cursor)
			if err != nil {
				t.Fatalf("%s after %d: %v", name, *cursor, err)
			}
			if *cursor+1 < first {
				t.Fatalf("%s: gap, cursor %d but first held %d", name, *cursor, first)
			}
			if n == 0 {
				if next != *cursor {
					t.Fatalf("%s: empty page moved cursor %d → %d", name, *cursor, next)
				}
				return
			}
			if n > r.limit {
				t.Fatalf("%s: %d items, limit %d", name, n, r.limit)
			}
			*cursor = next
		}
	}
	read("events", &r.events, func(after uint64) (uint64, uint64, int, error) {
		pg := r.p.Events(after, r.limit)
		r.got.Events = append(r.got.Events, pg.Items...)
		return pg.First, pg.Next, len(pg.Items), pg.Validate()
	})
	read("jobs", &r.jobs, func(after uint64) (uint64, uint64, int, error) {
		pg := r.p.Jobs(after, r.limit)
		r.got.Jobs = append(r.got.Jobs, pg.Items...)
		return pg.First, pg.Next, len(pg.Items), pg.Validate()
	})
	read("layers", &r.layers, func(after uint64) (uint64, uint64, int, error) {
		pg := r.p.Layers(after, r.limit)
		r.got.Layers = append(r.got.Layers, pg.Items...)
		return pg.First, pg.Next, len(pg.Items), pg.Validate()
	})
	for _, k := range fleet.LogKinds() {
		c := r.logs[k]
		read("logs/"+string(k), &c, func(after uint64) (uint64, uint64, int, error) {
			pg := r.p.Logs(k, after, r.limit)
			r.got.Logs[k] = append(r.got.Logs[k], pg.Items...)
			return pg.First, pg.Next, len(pg.Items), pg.Validate()
		})
		r.logs[k] = c
	}
}

// run advances the printer for d in steps, draining the feeds after each.
func run(t *testing.T, p *Printer, clk interface{ Advance(time.Duration) }, r *reader, d, step time.Duration) {
	t.Helper()
	for el := time.Duration(0); el < d; el += step {
		clk.Advance(step)
		r.drain(t)
	}
}

func TestFeedsAreConsistent(t *testing.T) {
	p, clk := newTestPrinter(t, 31, Options{})
	r := newReader(p, 1000)
	run(t, p, clk, r, 20*24*time.Hour, 6*time.Hour)
	got := r.got
	c := p.Counters()

	// Layers: consecutive Seqs, consecutive indices per job, sums.
	perJob := map[string][]fleet.Layer{}
	var printMS int64
	for i, l := range got.Layers {
		if l.Seq != uint64(i+1) {
			t.Fatalf("layer %d has seq %d", i, l.Seq)
		}
		perJob[l.JobID] = append(perJob[l.JobID], l)
		printMS += int64(math.Round(l.DurationSec * 1000))
		if l.DurationSec < 5 || l.DurationSec > 13 {
			t.Errorf("layer %d of %s: %v s, want about 7-10 s", l.Index, l.JobID, l.DurationSec)
		}
		if l.SizeMM2 > 380*284 {
			t.Errorf("layer %d of %s: fused %v mm² exceeds the build area", l.Index, l.JobID, l.SizeMM2)
		}
	}
	if int64(len(got.Layers)) != c.Layers {
		t.Errorf("counters: %d layers, feed has %d", c.Layers, len(got.Layers))
	}
	if want := float64(printMS) / 1000; math.Abs(c.PrintTimeSec-want) > 1e-6 {
		t.Errorf("counters: print time %v s, layers sum to %v s", c.PrintTimeSec, want)
	}

	// Jobs: the newest entry of each job, and the life cycle of the entries.
	latest := map[string]deviceapi.Job{}
	walks := map[string][]fleet.JobStatus{}
	for _, j := range got.Jobs {
		if err := j.Validate(); err != nil {
			t.Errorf("job entry %d: %v", j.Seq, err)
		}
		latest[j.ID] = j
		w := walks[j.ID]
		if len(w) == 0 || w[len(w)-1] != j.Status || j.Status == fleet.JobCooling {
			walks[j.ID] = append(w, j.Status)
		}
	}
	completedWalk := []fleet.JobStatus{fleet.JobQueued, fleet.JobPrinting, fleet.JobCooling, fleet.JobCooling, fleet.JobCompleted}
	var completed, failed, started, parts int64
	var volume float64
	for id, j := range latest {
		switch j.Status {
		case fleet.JobCompleted:
			completed++
			if diff := cmp.Diff(completedWalk, walks[id]); diff != "" {
				t.Errorf("job %s: walk (-want +got):\n%s", id, diff)
			}
		case fleet.JobFailed:
			failed++
		}
		if !j.StartedAt.IsZero() {
			started++
		}
		if j.Status == fleet.JobCompleted || j.Status == fleet.JobCooling {
			parts += int64(j.PartCount)
			volume += j.VolumeCM3
			checkFinishedJob(t, j, perJob[id])
		}
		checkParts(t, j)
	}
	if completed < 5 {
		t.Fatalf("only %d jobs completed in 20 simulated days", completed)
	}
	if c.TotalJobs != started || c.CompletedJobs != completed || c.TotalJobs < c.CompletedJobs {
		t.Errorf("counters: total %d completed %d; feed: started %d completed %d", c.TotalJobs, c.CompletedJobs, started, completed)
	}
	if c.Parts != parts || math.Abs(c.PrintVolumeCM3-volume) > 0.1+1e-6*volume {
		t.Errorf("counters: %d parts %v cm³; feed: %d parts %v cm³", c.Parts, c.PrintVolumeCM3, parts, volume)
	}
	if c.MaterialConsumedKG <= 0 || math.Abs(c.LampUsageHours*3600-c.PrintTimeSec) > 36 || c.CarriageCycles != 2*c.Layers {
		t.Errorf("counters do not follow the layers: %+v", c)
	}

	// Agents: the counters match the agent system, and cartridges ran out.
	cons := p.Consumables()
	for _, a := range cons.Agents {
		if math.Abs(c.AgentsConsumedML[a.Agent]-a.UsedCC) > 0.2 {
			t.Errorf("agent %s: counters %v ml, agent system %v cc", a.Agent, c.AgentsConsumedML[a.Agent], a.UsedCC)
		}
	}
	codes := map[string]int{}
	for _, e := range got.Events {
		codes[e.Code]++
	}
	for _, code := range []string{"AGENT_LOW", "AGENT_CARTRIDGE_REPLACED", "CLEANING_ROLL_LOW", "CLEANING_ROLL_REPLACED", "JOB_UNPACKED", "PRINTHEAD_RECOVERY"} {
		if codes[code] == 0 {
			t.Errorf("no %s event in 20 simulated days (events: %v)", code, codes)
		}
	}
	if c.IntermediateTanks != int64(codes["AGENT_CARTRIDGE_REPLACED"]) {
		t.Errorf("intermediate tanks %d, cartridges replaced %d", c.IntermediateTanks, codes["AGENT_CARTRIDGE_REPLACED"])
	}

	// Logs: every log written, in time order.
	for _, k := range fleet.LogKinds() {
		lines := got.Logs[k]
		if len(lines) == 0 {
			t.Errorf("log %s: no lines in 20 simulated days", k)
		}
		for i, l := range lines {
			if l.Seq != uint64(i+1) || l.Log != k || l.Text == "" || i > 0 && l.Time.Before(lines[i-1].Time) {
				t.Errorf("log %s line %d: %+v", k, i, l)
				break
			}
		}
	}

	t.Run("private names only where real printers write them", func(t *testing.T) {
		names := map[string]bool{}
		for _, j := range got.Jobs {
			names[j.Private.Name], names[j.Private.User], names[j.Private.Host] = true, true, true
			for _, pt := range j.Parts {
				names[pt.Private.Name], names[pt.Private.GeometryRef] = true, true
			}
		}
		// The free text that names jobs as a real printer's does: the
		// queued event's details, the session log's accepted line, job
		// warnings. The Command Center scrubs it; all else is clean.
		var public, free []string
		for _, e := range got.Events {
			if e.Code == "JOB_QUEUED" {
				public = append(public, e.Code+" "+e.Description)
				free = append(free, e.Details)
				continue
			}
			public = append(public, e.Code+" "+e.Description+" "+e.Details)
		}
		for _, l := range got.Layers {
			public = append(public, l.JobID)
		}
		for _, lines := range got.Logs {
			for _, l := range lines {
				if l.Log == fleet.LogSession && strings.Contains(l.Text, "job accepted") {
					free = append(free, l.Text)
					continue
				}
				public = append(public, l.Text)
			}
		}
		b, _ := json.Marshal(struct {
			C fleet.Counters
			S fleet.Consumables
			I deviceapi.Identity
		}{c, cons, p.Identity()})
		public = append(public, string(b))
		var lower []string
		for n := range names {
			if n != "" {
				lower = append(lower, strings.ToLower(n))
			}
		}
		for _, s := range public {
			s = strings.ToLower(s)
			for _, n := range lower {
				if strings.Contains(s, n) {
					t.Fatalf("private name %q in %q", n, s)
				}
			}
		}
		named := 0
		for _, s := range free {
			s = strings.ToLower(s)
			for _, n := range lower {
				if strings.Contains(s, n) {
					named++
				}
			}
		}
		if named == 0 {
			t.Errorf("no queued event or session log line names a job, user or computer, as real printers do")
		}
	})
}

// checkFinishedJob checks a printed job against its layers.
func checkFinishedJob(t *testing.T, j deviceapi.Job, layers []fleet.Layer) {
	t.Helper()
	if len(layers) != j.LayerCount || j.LayersDone != j.LayerCount {
		t.Errorf("job %s: %d layer records, %d done, %d planned", j.ID, len(layers), j.LayersDone, j.LayerCount)
		return
	}
	var sum, fused float64
	for i, l := range layers {
		if l.Index != i+1 {
			t.Fatalf("job %s: layer %d has index %d", j.ID, i+1, l.Index)
		}
		sum += l.DurationSec
		fused += l.SizeMM2 * j.LayerThicknessMM / 1000
	}
	pr := j.SubJobs[1]
	if pr.Kind != "printing" || pr.Status != "done" || math.Abs(pr.DurationSec-sum) > 1e-6 {
		t.Errorf("job %s: printing sub-job %+v, layers sum to %v s", j.ID, pr, sum)
	}
	if !pr.Start.Equal(j.StartedAt) || !pr.End.Equal(j.FinishedAt) || pr.End.Sub(pr.Start).Seconds() < sum-1e-6 {
		t.Errorf("job %s: printing %v..%v, started %v finished %v, layers %v s", j.ID, pr.Start, pr.End, j.StartedAt, j.FinishedAt, sum)
	}
	if math.Abs(fused-j.VolumeCM3) > 0.03*j.VolumeCM3 {
		t.Errorf("job %s: layers fuse %v cm³, parts are %v cm³", j.ID, fused, j.VolumeCM3)
	}
}

// checkParts checks a job's parts against the build volume and the job.
func checkParts(t *testing.T, j deviceapi.Job) {
	t.Helper()
	if len(j.Parts) != j.PartCount || j.PartCount == 0 {
		t.Errorf("job %s: %d parts, count %d", j.ID, len(j.Parts), j.PartCount)
	}
	var vol, surf float64
	for i, pt := range j.Parts {
		b := pt.BoundingBox
		if b.Min.X < 0 || b.Min.Y < 0 || b.Min.Z < 0 || b.Max.X > 380 || b.Max.Y > 284 || b.Max.Z > 380 {
			t.Errorf("job %s part %s: box %+v outside the build volume", j.ID, pt.ID, b)
		}
		if pt.VolumeCM3 <= 0 || pt.VolumeCM3 > b.VolumeMM3()/1000+1e-9 {
			t.Errorf("job %s part %s: volume %v cm³ for a %v cm³ box", j.ID, pt.ID, pt.VolumeCM3, b.VolumeMM3()/1000)
		}
		for _, q := range j.Parts[:i] {
			o := q.BoundingBox
			if b.Min.X < o.Max.X && o.Min.X < b.Max.X && b.Min.Y < o.Max.Y && o.Min.Y < b.Max.Y && b.Min.Z < o.Max.Z && o.Min.Z < b.Max.Z {
				t.Errorf("job %s: parts %s and %s overlap", j.ID, pt.ID, q.ID)
			}
		}
		if strings.Contains(pt.ID, pt.Private.Name) || pt.Private.GeometryRef == "" {
			t.Errorf("job %s part %s: private %+v", j.ID, pt.ID, pt.Private)
		}
		if (pt.Outcome == fleet.PartPending) != (j.Status != fleet.JobCompleted && j.Status != fleet.JobFailed) {
			t.Errorf("job %s (%s) part %s: outcome %s", j.ID, j.Status, pt.ID, pt.Outcome)
		}
		vol += pt.VolumeCM3
		surf += pt.SurfaceCM2
	}
	if math.Abs(vol-j.VolumeCM3) > 0.01+1e-9*vol || math.Abs(surf-j.SurfaceCM2) > 0.1+1e-9*surf {
		t.Errorf("job %s: parts sum to %v cm³ %v cm², job says %v cm³ %v cm²", j.ID, vol, surf, j.VolumeCM3, j.SurfaceCM2)
	}
	height := float64(j.LayerCount) * j.LayerThicknessMM
	want := vol / (380 * 284 * height / 1000)
	if math.Abs(j.Density-want) > 0.01*want+1e-4 || j.Density > 0.3 {
		t.Errorf("job %s: density %v, parts and height give %v", j.ID, j.Density, want)
	}
}

func TestDeterministicFeeds(t *testing.T) {
	snapshot := func(step time.Duration, limit int) string {
		p, clk := newTestPrinter(t, 99, Options{})
		if err := p.SetSupply(SupplyRequest{Agent: "fusing", NonOriginal: true}); err != nil {
			t.Fatal(err)
		}
		r := newReader(p, limit)
		run(t, p, clk, r, 6*24*time.Hour, step)
		b, err := json.Marshal(struct {
			F feeds
			C fleet.Counters
			S fleet.Consumables
			T Truth
			U deviceapi.Status
		}{r.got, p.Counters(), p.Consumables(), p.Truth(), p.Status()})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	a := snapshot(3*time.Hour, 1000)
	b := snapshot(90*time.Minute, 7)
	if a != b {
		t.Errorf("same seed, different reads: feeds differ (-a +b):\n%s", cmp.Diff(a, b))
	}
	if len(a) < 100_000 {
		t.Errorf("only %d bytes of feeds in six simulated days", len(a))
	}
}

func TestLayerRingOverflow(t *testing.T) {
	p, clk := newTestPrinter(t, 8, Options{LayerCapacity: 100, LogCapacity: 10, JobCapacity: 5})
	clk.Advance(5 * 24 * time.Hour)
	lp := p.Layers(0, 1000)
	if len(lp.Items) != 100 || lp.First <= 1 || lp.Items[0].Seq != lp.First {
		t.Errorf("layers: %d items from %d, first %d", len(lp.Items), lp.Items[0].Seq, lp.First)
	}
	jp := p.Jobs(0, 1000)
	if len(jp.Items) != 5 || jp.First <= 1 {
		t.Errorf("jobs: %d items, first %d", len(jp.Items), jp.First)
	}
	for _, k := range fleet.LogKinds() {
		if pg := p.Logs(k, 0, 1000); len(pg.Items) > 10 {
			t.Errorf("log %s: %d lines, capacity 10", k, len(pg.Items))
		}
	}
	if pg := p.Logs("nonsense", 0, 10); len(pg.Items) != 0 || pg.Next != 0 {
		t.Errorf("unknown log: %+v", pg)
	}
}

func TestSetFirmwareAndParameterSet(t *testing.T) {
	p, clk := newTestPrinter(t, 4, Options{})
	clk.Advance(time.Hour)
	p.SetFirmware("4.3.0")
	p.SetParameterSet("learned-pa12-7")
	p.SetFirmware("4.3.0") // no change, no event
	clk.Advance(2 * 24 * time.Hour)
	id := p.Identity()
	if id.Firmware != "4.3.0" || id.ParameterSet != "learned-pa12-7" {
		t.Errorf("identity: firmware %q parameter set %q", id.Firmware, id.ParameterSet)
	}
	evs := allEvents(p)
	var updated int
	for _, e := range evs {
		if e.Code == "FIRMWARE_UPDATED" {
			updated++
		}
		if before := updated == 0; before && e.Firmware != "4.2.9" || !before && e.Firmware != "4.3.0" {
			t.Errorf("event %d at %v: firmware %q", e.Seq, e.Time, e.Firmware)
		}
	}
	if updated != 1 {
		t.Errorf("%d FIRMWARE_UPDATED events, want 1", updated)
	}
	var newSet bool
	for _, j := range p.Jobs(0, 1000).Items {
		if j.Status == fleet.JobPrinting && j.ParameterSet == "learned-pa12-7" {
			newSet = true
		}
	}
	if !newSet {
		t.Error("no job printed with the new parameter set")
	}
}

func TestConsumablesAreComplete(t *testing.T) {
	for _, model := range []string{"4200", "5200"} {
		t.Run(model, func(t *testing.T) {
			p, clk := newTestPrinter(t, 12, Options{Model: model})
			clk.Advance(3 * 24 * time.Hour)
			c := p.Consumables()
			if len(c.Printheads) != 6 || len(c.Lamps) != 3 || len(c.Agents) != 6 {
				t.Fatalf("%d printheads, %d lamps, %d agents", len(c.Printheads), len(c.Lamps), len(c.Agents))
			}
			uuids := map[string]bool{}
			for _, h := range c.Printheads {
				if h.UUID == "" || h.SerialNumber == "" || h.PartNumber == "" || h.Type == "" || h.Status == "" ||
					h.InstallDate.IsZero() || h.ManufactureDate.IsZero() || !h.WarrantyEnd.After(h.InstallDate) || h.WarrantyStatus == "" ||
					h.UsageHours <= 0 || h.AgentUsedCC <= 0 || uuids[h.UUID] {
					t.Errorf("printhead %+v", h)
				}
				uuids[h.UUID] = true
			}
			u := c.BuildUnits.Installed
			if u == nil || u.SerialNumber == "" || u.Inserts == 0 || u.Material == "" || len(u.Printers) != 1 || c.BuildUnits.TotalInserts != u.Inserts {
				t.Errorf("build units %+v", c.BuildUnits)
			}
			for _, l := range c.Lamps {
				if l.Hours <= 0 || l.IntensityPercent <= 0 || l.IntensityPercent > 100 || l.Status == "" {
					t.Errorf("lamp %+v", l)
				}
			}
			if c.CleaningRoll.PartNumber == "" || c.CleaningRoll.UsagePercent <= 0 {
				t.Errorf("cleaning roll %+v", c.CleaningRoll)
			}
		})
	}
}

func TestPrintModesTradeTimeForQuality(t *testing.T) {
	modes := map[string]float64{}
	for _, m := range processTable().Modes {
		modes[m.Name] = m.LayerScale
	}
	if !(modes["fast"] < modes["balanced"] && modes["balanced"] < modes["robust"]) {
		t.Errorf("layer scales %v: want fast < balanced < robust", modes)
	}
	p, clk := newTestPrinter(t, 50, Options{})
	var ids []string
	for _, mode := range []string{"fast", "robust"} {
		res, err := p.QueueJobs(JobFile{Jobs: []JobSpec{{Name: "cal " + mode, User: "qa", Host: "QA-PC", PrintMode: mode,
			Parts: []PartSpec{{Name: "cube", GeometryRef: "parts/cube.3mf", SizeMM: fleet.Vec3{X: 50, Y: 50, Z: 50}, VolumeCM3: 100}}}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.JobIDs...)
	}
	clk.Advance(10 * 24 * time.Hour)
	durations := map[string]float64{}
	for _, j := range p.Jobs(0, 1000).Items {
		for i, id := range ids {
			if j.ID == id && j.Status == fleet.JobCompleted {
				durations[[]string{"fast", "robust"}[i]] = j.SubJobs[1].DurationSec / float64(j.LayerCount)
			}
		}
	}
	if len(durations) != 2 || durations["fast"] >= durations["robust"] {
		t.Errorf("mean layer time per mode %v: want fast < robust", durations)
	}
	_ = fmt.Sprint()
}
