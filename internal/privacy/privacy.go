package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// redacted replaces a private name that a printer wrote into a free-text
// field that may otherwise leave the site.
const redacted = "[private]"

// sourceHostIDLen is the length of a SourceHostID in hex digits (64 bits).
const sourceHostIDLen = 16

// Identity returns the part of a printer's identity that may leave the site
// (R-DATA-1). The feed instance is local bookkeeping and stays behind.
func Identity(id deviceapi.Identity) fleet.Identity {
	return fleet.Identity{
		PrinterID:    id.PrinterID,
		Name:         id.Name,
		Model:        id.Model,
		ModelNumber:  id.ModelNumber,
		SerialNumber: id.SerialNumber,
		Firmware:     id.Firmware,
		ParameterSet: id.ParameterSet,
		Size:         id.Size,
		DiskBytes:    id.DiskBytes,
		MemoryBytes:  id.MemoryBytes,
		Date:         id.Date,
		UptimeSec:    id.UptimeSec,
	}
}

// Status returns the heartbeat of printer p that may leave the site
// (R-DATA-2). The current job is reduced to its random ID and progress; its
// private names (job, user, host) are dropped (R-PRIV-2), and should the
// printer have written any of them into the activity text, they are
// redacted there too.
func Status(p fleet.PrinterID, s deviceapi.Status) fleet.Status {
	out := fleet.Status{
		PrinterID:   p,
		State:       s.State,
		Activity:    s.Activity,
		ETCSeconds:  s.ETCSeconds,
		PendingJobs: s.PendingJobs,
		Time:        s.Time,
	}
	if j := s.Job; j != nil {
		out.JobID = j.ID
		out.Progress = j.Progress
		out.Activity = redact(out.Activity, j.Private.Name, j.Private.User, j.Private.Host)
	}
	return out
}

// Event returns the part of a printer event that may leave the site
// (R-DATA-3).
func Event(e fleet.Event) fleet.Event {
	return fleet.Event{
		Seq:         e.Seq,
		Code:        e.Code,
		Description: e.Description,
		Severity:    e.Severity,
		Time:        e.Time,
		Firmware:    e.Firmware,
		Subsystem:   e.Subsystem,
		Details:     e.Details,
	}
}

// Job returns the part of a jobs-feed entry that may leave the site
// (R-DATA-4). The job's name, user and submitting computer (j.Private) are
// dropped (R-PRIV-2); the computer is named instead by sourceHostID, which
// the caller derives with SourceHostID. The parts travel separately (see
// Part). Warning messages and sub-job kinds are the printer's own text and
// are kept, except that any private name the printer wrote into them is
// redacted. Slices are copied, so the result shares no memory with j.
func Job(j deviceapi.Job, sourceHostID string) fleet.Job {
	private := []string{j.Private.Name, j.Private.User, j.Private.Host}
	out := fleet.Job{
		ID:               j.ID,
		CreatedAt:        j.CreatedAt,
		StartedAt:        j.StartedAt,
		FinishedAt:       j.FinishedAt,
		SourceApp:        redact(j.SourceApp, private...),
		SourceHostID:     sourceHostID,
		BoundingBox:      box(j.BoundingBox),
		VolumeCM3:        j.VolumeCM3,
		SurfaceCM2:       j.SurfaceCM2,
		Density:          j.Density,
		LayerCount:       j.LayerCount,
		LayerThicknessMM: j.LayerThicknessMM,
		Material:         j.Material,
		PartMaterials:    slices.Clone(j.PartMaterials),
		RecyclableKG:     j.RecyclableKG,
		RecycledShare:    j.RecycledShare,
		PrintMode:        j.PrintMode,
		ParameterSet:     j.ParameterSet,
		BuildUnitID:      j.BuildUnitID,
		Status:           j.Status,
		LayersDone:       j.LayersDone,
		PartCount:        j.PartCount,
	}
	if j.Warnings != nil {
		out.Warnings = make([]fleet.JobWarning, len(j.Warnings))
		for i, w := range j.Warnings {
			out.Warnings[i] = fleet.JobWarning{
				ID:       w.ID,
				Message:  redact(w.Message, private...),
				Severity: w.Severity,
				Time:     w.Time,
			}
		}
	}
	if j.SubJobs != nil {
		out.SubJobs = make([]fleet.SubJob, len(j.SubJobs))
		for i, s := range j.SubJobs {
			out.SubJobs[i] = fleet.SubJob{
				Kind:              redact(s.Kind, private...),
				Status:            s.Status,
				CompletionPercent: s.CompletionPercent,
				DurationSec:       s.DurationSec,
				Start:             s.Start,
				End:               s.End,
			}
		}
	}
	return out
}

// Part returns the part of a job's part that may leave the site (R-DATA-5).
// Its name and geometry reference (p.Private) are dropped (R-PRIV-1,
// R-PRIV-2); the completion details are kept with the part's name redacted
// should the printer have written it there.
func Part(p deviceapi.Part) fleet.Part {
	return fleet.Part{
		ID:                p.ID,
		JobID:             p.JobID,
		CreatedAt:         p.CreatedAt,
		ProcessingStart:   p.ProcessingStart,
		ProcessingEnd:     p.ProcessingEnd,
		PrintStart:        p.PrintStart,
		PrintEnd:          p.PrintEnd,
		BoundingBox:       box(p.BoundingBox),
		VolumeCM3:         p.VolumeCM3,
		SurfaceCM2:        p.SurfaceCM2,
		MaterialG:         p.MaterialG,
		Outcome:           p.Outcome,
		CompletionDetails: redact(p.CompletionDetails, p.Private.Name, p.Private.GeometryRef),
	}
}

// Layer returns a copy of a layer record (R-DATA-6): every field is named
// by R-DATA and none is private.
func Layer(l fleet.Layer) fleet.Layer {
	return fleet.Layer{
		Seq:         l.Seq,
		JobID:       l.JobID,
		Index:       l.Index,
		SizeMM2:     l.SizeMM2,
		DurationSec: l.DurationSec,
		Start:       l.Start,
		End:         l.End,
	}
}

// Counters returns a deep copy of a printer's usage counters (R-DATA-7).
func Counters(c fleet.Counters) fleet.Counters {
	return fleet.Counters{
		TotalJobs:           c.TotalJobs,
		CompletedJobs:       c.CompletedJobs,
		Layers:              c.Layers,
		Parts:               c.Parts,
		PrintVolumeCM3:      c.PrintVolumeCM3,
		PrintTimeSec:        c.PrintTimeSec,
		AgentsConsumedML:    maps.Clone(c.AgentsConsumedML),
		MaterialConsumedKG:  c.MaterialConsumedKG,
		CoolingSystemHours:  c.CoolingSystemHours,
		FilterStatusPercent: c.FilterStatusPercent,
		LampUsageHours:      c.LampUsageHours,
		IntermediateTanks:   c.IntermediateTanks,
		AgentSystemHours:    c.AgentSystemHours,
		ServiceStationUses:  c.ServiceStationUses,
		CarriageCycles:      c.CarriageCycles,
		SystemErrors:        c.SystemErrors,
		Time:                c.Time,
	}
}

// Consumables returns a deep copy of a printer's consumables snapshot
// (R-DATA-8..11, plus lamps).
func Consumables(c fleet.Consumables) fleet.Consumables {
	out := fleet.Consumables{
		CleaningRoll: fleet.CleaningRoll{
			PartNumber:   c.CleaningRoll.PartNumber,
			Status:       c.CleaningRoll.Status,
			UsagePercent: c.CleaningRoll.UsagePercent,
		},
		BuildUnits: fleet.BuildUnits{TotalInserts: c.BuildUnits.TotalInserts},
		Time:       c.Time,
	}
	if c.Agents != nil {
		out.Agents = make([]fleet.AgentSupply, len(c.Agents))
		for i, a := range c.Agents {
			out.Agents[i] = fleet.AgentSupply{
				Agent:              a.Agent,
				UsedCC:             a.UsedCC,
				BuildUnitInserts:   a.BuildUnitInserts,
				SupplyStatus:       a.SupplyStatus,
				SupplyLevelPercent: a.SupplyLevelPercent,
			}
		}
	}
	if c.Printheads != nil {
		out.Printheads = make([]fleet.Printhead, len(c.Printheads))
		for i, h := range c.Printheads {
			out.Printheads[i] = fleet.Printhead{
				Slot:             h.Slot,
				Type:             h.Type,
				UUID:             h.UUID,
				Status:           h.Status,
				PartNumber:       h.PartNumber,
				SerialNumber:     h.SerialNumber,
				AgentUsedCC:      h.AgentUsedCC,
				InstallDate:      h.InstallDate,
				UsageHours:       h.UsageHours,
				RecoveryLevel:    h.RecoveryLevel,
				LastErrorCode:    h.LastErrorCode,
				LastErrorTime:    h.LastErrorTime,
				NonOriginalAgent: h.NonOriginalAgent,
				ExpiredAgent:     h.ExpiredAgent,
				WarrantyEnd:      h.WarrantyEnd,
				WarrantyStatus:   h.WarrantyStatus,
				ManufactureDate:  h.ManufactureDate,
			}
		}
	}
	if u := c.BuildUnits.Installed; u != nil {
		bu := fleet.BuildUnit{
			PartNumber:          u.PartNumber,
			SerialNumber:        u.SerialNumber,
			Inserts:             u.Inserts,
			Status:              u.Status,
			UsageHours:          u.UsageHours,
			Material:            u.Material,
			RecycledPercent:     u.RecycledPercent,
			MaterialKG:          u.MaterialKG,
			NonOriginalMaterial: u.NonOriginalMaterial,
			ExpiredMaterial:     u.ExpiredMaterial,
		}
		if u.Printers != nil {
			bu.Printers = make([]fleet.BuildUnitPrinter, len(u.Printers))
			for i, p := range u.Printers {
				bu.Printers[i] = fleet.BuildUnitPrinter{
					ProductNumber: p.ProductNumber,
					SerialNumber:  p.SerialNumber,
					Firmware:      p.Firmware,
					Connected:     p.Connected,
					Disconnected:  p.Disconnected,
				}
			}
		}
		out.BuildUnits.Installed = &bu
	}
	if c.Lamps != nil {
		out.Lamps = make([]fleet.Lamp, len(c.Lamps))
		for i, l := range c.Lamps {
			out.Lamps[i] = fleet.Lamp{
				Position:         l.Position,
				Hours:            l.Hours,
				IntensityPercent: l.IntensityPercent,
				Status:           l.Status,
			}
		}
	}
	return out
}

// LogLine returns a copy of a device log line (R-DATA-12). By the printer's
// contract no log, the session log included, carries customer part
// information, so the text is kept as it is.
func LogLine(l fleet.LogLine) fleet.LogLine {
	return fleet.LogLine{
		Seq:  l.Seq,
		Log:  l.Log,
		Time: l.Time,
		Text: l.Text,
	}
}

// SourceHostID returns the pseudonym of the computer named host that
// submitted a job (R-DATA-4 source host, R-PRIV-2): the first 16 hex digits
// of HMAC-SHA256(siteSecret, host). The same host gets the same ID at one
// site, so jobs can be grouped by computer in the cloud, but without the
// site's secret the name can neither be recovered nor confirmed by hashing
// guessed names. Host names are compared as given (case and spaces count).
// The secret belongs to the site, is kept there, and should hold at least
// 32 random bytes.
func SourceHostID(siteSecret []byte, host string) string {
	m := hmac.New(sha256.New, siteSecret)
	m.Write([]byte(host))
	return hex.EncodeToString(m.Sum(nil))[:sourceHostIDLen]
}

// box copies a bounding box.
func box(b fleet.Box) fleet.Box {
	return fleet.Box{
		Min: fleet.Vec3{X: b.Min.X, Y: b.Min.Y, Z: b.Min.Z},
		Max: fleet.Vec3{X: b.Max.X, Y: b.Max.Y, Z: b.Max.Z},
	}
}

// redact replaces every occurrence of the private strings in s. Empty and
// very short strings are skipped: replacing a one-letter user name would
// mangle the text without protecting anything.
// Longer strings go first so that one name containing another is replaced
// whole. The caller's slice is not reordered.
func redact(s string, private ...string) string {
	private = slices.Clone(private)
	slices.SortFunc(private, func(a, b string) int { return len(b) - len(a) })
	for _, p := range private {
		if len(strings.TrimSpace(p)) < 3 {
			continue
		}
		s = strings.ReplaceAll(s, p, redacted)
	}
	return s
}
