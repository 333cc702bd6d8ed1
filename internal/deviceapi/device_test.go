package deviceapi

import (
	"log/slog"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// fakeDevice serves fixed data and records what it was asked.
type fakeDevice struct {
	id          Identity
	st          Status
	events      []fleet.Event
	jobs        []Job
	layers      []fleet.Layer
	logs        map[fleet.LogKind][]fleet.LogLine
	counters    fleet.Counters
	consumables fleet.Consumables

	calls    int // reads of any kind
	gotFeed  string
	gotLog   fleet.LogKind
	gotAfter uint64
	gotLimit int
}

// feedPage answers a feed read the way the Device contract says.
func feedPage[T any](instance string, items []T, seq func(T) uint64, after uint64, limit int) Page[T] {
	p := Page[T]{Instance: instance, Items: []T{}, Next: after, First: 1}
	if len(items) > 0 {
		p.First = seq(items[0])
	}
	for _, it := range items {
		if s := seq(it); s > after && len(p.Items) < limit {
			p.Items = append(p.Items, it)
			p.Next = s
		}
	}
	return p
}

func (f *fakeDevice) read(feed string, after uint64, limit int) {
	f.calls++
	f.gotFeed, f.gotAfter, f.gotLimit = feed, after, limit
}

func (f *fakeDevice) Identity() Identity { f.calls++; return f.id }
func (f *fakeDevice) Status() Status     { f.calls++; return f.st }
func (f *fakeDevice) Events(after uint64, limit int) EventPage {
	f.read("events", after, limit)
	return feedPage(f.id.Instance, f.events, func(e fleet.Event) uint64 { return e.Seq }, after, limit)
}
func (f *fakeDevice) Jobs(after uint64, limit int) JobPage {
	f.read("jobs", after, limit)
	return feedPage(f.id.Instance, f.jobs, func(j Job) uint64 { return j.Seq }, after, limit)
}
func (f *fakeDevice) Layers(after uint64, limit int) LayerPage {
	f.read("layers", after, limit)
	return feedPage(f.id.Instance, f.layers, func(l fleet.Layer) uint64 { return l.Seq }, after, limit)
}
func (f *fakeDevice) Logs(log fleet.LogKind, after uint64, limit int) LogPage {
	f.read("logs", after, limit)
	f.gotLog = log
	return feedPage(f.id.Instance, f.logs[log], func(l fleet.LogLine) uint64 { return l.Seq }, after, limit)
}
func (f *fakeDevice) Counters() fleet.Counters       { f.calls++; return f.counters }
func (f *fakeDevice) Consumables() fleet.Consumables { f.calls++; return f.consumables }
func (f *fakeDevice) SelfTest() SelfTest {
	f.calls++
	return SelfTest{Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Passed: true, Checks: []SelfTestCheck{{Subsystem: "lamp", Component: "lamp-1", Result: SelfTestPass, Value: 97}}}
}

var testTime = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func testJob(seq uint64, id string, status fleet.JobStatus) Job {
	box := fleet.Box{Max: fleet.Vec3{X: 380, Y: 284, Z: 120}}
	return Job{
		Seq: seq,
		Job: fleet.Job{
			ID: id, CreatedAt: testTime, StartedAt: testTime.Add(time.Minute), SourceApp: "Build Manager 5.1",
			BoundingBox: box, VolumeCM3: 812.5, SurfaceCM2: 4410, Density: 0.09, LayerCount: 400, LayerThicknessMM: 0.08,
			Material: "PA12", PartMaterials: []string{"PA12"}, RecyclableKG: 6.5, PrintMode: "balanced",
			ParameterSet: "PA12-balanced-7", BuildUnitID: "BU-0042", Status: status, LayersDone: 12, PartCount: 2,
			Warnings: []fleet.JobWarning{{ID: "W1", Message: "lamp 2 weak", Severity: fleet.SeverityWarning, Time: testTime}},
			SubJobs: []fleet.SubJob{
				{Kind: "preparation", Status: "done", CompletionPercent: 100, DurationSec: 600, Start: testTime, End: testTime.Add(10 * time.Minute)},
				{Kind: "printing", Status: "running", CompletionPercent: 3, DurationSec: 60, Start: testTime.Add(10 * time.Minute)},
			},
		},
		Private: JobPrivate{Name: "Gearbox housing batch 7", User: "mkeller", Host: "CAD-WS-07"},
		Parts: []Part{
			{Part: fleet.Part{ID: id + "-p1", JobID: id, CreatedAt: testTime, BoundingBox: box, VolumeCM3: 400, SurfaceCM2: 2000,
				MaterialG: 404, Outcome: fleet.PartPending}, Private: PartPrivate{Name: "housing left", GeometryRef: "housing-left.3mf"}},
			{Part: fleet.Part{ID: id + "-p2", JobID: id, CreatedAt: testTime, BoundingBox: box, VolumeCM3: 412.5, SurfaceCM2: 2410,
				MaterialG: 416, Outcome: fleet.PartPending}, Private: PartPrivate{Name: "housing right", GeometryRef: "housing-right.3mf"}},
		},
	}
}

func newFakeDevice() *fakeDevice {
	f := &fakeDevice{
		id: Identity{
			Identity: fleet.Identity{
				PrinterID: "3f2c9a1e-7b44-4c1a-9d0e-5a6b7c8d9e0f", Name: "3DP 1", Model: "FF-4200",
				ModelNumber: "FF4200-A", SerialNumber: "FF42ABCD1234", Firmware: "2.9.1", ParameterSet: "PA12-balanced-7",
				Size: "380x284x380 mm", DiskBytes: 1 << 40, MemoryBytes: 128 << 30, Date: testTime, UptimeSec: 3600,
			},
			Instance: "INST1",
		},
		st: Status{
			State: fleet.StatePrinting, Activity: "printing layer 13 of 400",
			Job: &CurrentJob{ID: "J8K2M4P6Q1R3", Progress: 0.03, LayersDone: 12, LayersTotal: 400,
				Private: JobPrivate{Name: "Gearbox housing batch 7", User: "mkeller", Host: "CAD-WS-07"}},
			ETCSeconds: 3300, PendingJobs: 2, Time: testTime,
		},
		logs: map[fleet.LogKind][]fleet.LogLine{},
		counters: fleet.Counters{
			TotalJobs: 12, CompletedJobs: 10, Layers: 4800, Parts: 96, PrintVolumeCM3: 9000, PrintTimeSec: 36000,
			AgentsConsumedML: map[string]float64{"fusing": 1200, "detailing": 800}, MaterialConsumedKG: 80,
			CoolingSystemHours: 40, FilterStatusPercent: 72, LampUsageHours: 300, IntermediateTanks: 3,
			AgentSystemHours: 120, ServiceStationUses: 400, CarriageCycles: 90000, SystemErrors: 2, Time: testTime,
		},
		consumables: fleet.Consumables{
			CleaningRoll: fleet.CleaningRoll{PartNumber: "CR-100", Status: "ok", UsagePercent: 35},
			Agents:       []fleet.AgentSupply{{Agent: "fusing", UsedCC: 1200, BuildUnitInserts: 4, SupplyStatus: "ok", SupplyLevelPercent: 60}},
			Printheads: []fleet.Printhead{{Slot: 1, Type: "FA", UUID: "ph-7d1e", Status: "ok", PartNumber: "PH-1", SerialNumber: "PHS1",
				AgentUsedCC: 300, InstallDate: testTime, UsageHours: 100, RecoveryLevel: 1, WarrantyEnd: testTime.AddDate(1, 0, 0),
				WarrantyStatus: "in warranty", ManufactureDate: testTime.AddDate(-1, 0, 0)}},
			BuildUnits: fleet.BuildUnits{TotalInserts: 9, Installed: &fleet.BuildUnit{PartNumber: "BU-1", SerialNumber: "BU-0042",
				Inserts: 9, Status: "printing", UsageHours: 90, Material: "PA12", RecycledPercent: 80, MaterialKG: 20,
				Printers: []fleet.BuildUnitPrinter{{ProductNumber: "FF4200-A", SerialNumber: "FF42ABCD1234", Firmware: "2.9.1", Connected: testTime}}}},
			Lamps: []fleet.Lamp{{Position: "fusing-1", Hours: 300, IntensityPercent: 91, Status: "ok"}},
			Time:  testTime,
		},
	}
	for i := uint64(1); i <= 5; i++ {
		f.events = append(f.events, fleet.Event{Seq: i, Code: "JOB_QUEUED", Description: "job queued", Severity: fleet.SeverityInfo, Time: testTime, Firmware: "2.9.1", Subsystem: "job-manager"})
		f.layers = append(f.layers, fleet.Layer{Seq: i, JobID: "J8K2M4P6Q1R3", Index: int(i), SizeMM2: 1500, DurationSec: 9,
			Start: testTime.Add(time.Duration(i) * 9 * time.Second), End: testTime.Add(time.Duration(i+1) * 9 * time.Second)})
		f.logs[fleet.LogSession] = append(f.logs[fleet.LogSession], fleet.LogLine{Seq: i, Log: fleet.LogSession, Time: testTime, Text: "session line"})
	}
	f.jobs = []Job{testJob(1, "J1", fleet.JobQueued), testJob(2, "J8K2M4P6Q1R3", fleet.JobPrinting), testJob(3, "J1", fleet.JobPrinting)}
	return f
}

func testLogger(t testing.TB) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}
