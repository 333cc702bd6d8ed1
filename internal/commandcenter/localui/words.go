package localui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// How the pages say things: a printer in words, sizes, rates and times.

// printerView is a printer as the Printers page shows it.
type printerView struct {
	ID                    int64
	Name, Address, Model  string
	Fingerprint           string
	Collection            string
	CollectionClass       string
	State, Activity       string
	JobName, Progress     string
	ETC                   string
	PendingJobs, LastSeen string
}

// viewOf says p in words.
func viewOf(p commandcenter.Printer) printerView {
	v := printerView{
		ID: p.ID, Name: p.Address, Address: p.Address, Model: "not known yet", Fingerprint: string(p.Fingerprint),
		State: "not known yet", PendingJobs: "not known yet", LastSeen: "never",
		CollectionClass: strings.ReplaceAll(string(p.State), " ", "-"),
	}
	if p.Identity != nil {
		v.Name, v.Model = p.Identity.Name, p.Identity.Model
		if v.Name == "" {
			v.Name = p.Address
		}
	}
	if !p.LastSeen.IsZero() {
		v.LastSeen = commandcenter.Stamp(p.LastSeen)
	}
	switch p.State {
	case commandcenter.CollectionOK:
		v.Collection = "ok"
	case commandcenter.CollectionNew:
		v.Collection = "waiting for first contact"
	case commandcenter.CollectionUnreachable:
		v.Collection = fmt.Sprintf("unreachable since %s: %s", commandcenter.Stamp(p.StateSince), p.LastError)
	case commandcenter.CollectionBadInput:
		v.Collection = fmt.Sprintf("answers partly refused since %s: %s", commandcenter.Stamp(p.StateSince), p.LastError)
	case commandcenter.CollectionCertificateChanged, commandcenter.CollectionNotPaired:
		v.Collection = p.LastError
	default:
		v.Collection = string(p.State)
	}
	if s := p.Status; s != nil {
		v.State = stateWords(s.State)
		if p.State != commandcenter.CollectionOK {
			v.State = "last known: " + v.State
		}
		v.Activity = s.Activity
		v.PendingJobs = fmt.Sprint(s.PendingJobs)
		if s.ETCSeconds > 0 {
			v.ETC = commandcenter.DurationWords(time.Duration(s.ETCSeconds) * time.Second)
		}
		if j := s.Job; j != nil {
			v.JobName = j.Private.Name // the local UI may show it (R-PRIV-2)
			if v.JobName == "" {
				v.JobName = j.ID
			}
			if j.Progress > 0 {
				v.Progress = fmt.Sprintf("%.0f %%", math.Floor(j.Progress*100))
			}
		}
	}
	return v
}

// stateWords says what a printer is doing as the dashboard does (R-FEAT-1).
func stateWords(s fleet.State) string {
	switch s {
	case fleet.StateIdle:
		return "powered on, idle"
	case fleet.StatePrinting:
		return "powered on, printing"
	case fleet.StateCooling:
		return "powered on, cooling"
	case fleet.StateError:
		return "error"
	default:
		return "unknown"
	}
}

// stampOrDash writes a time as Stamp does, "–" for none.
func stampOrDash(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return commandcenter.Stamp(t)
}

// bytesWords writes n bytes as "512 B", "12.3 KB", "4.0 MB".
func bytesWords(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f KB", float64(n)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	}
}

// bpsWords writes a bandwidth in bits per second.
func bpsWords(bps float64) string {
	switch {
	case bps < 1000:
		return fmt.Sprintf("%.0f bit/s", bps)
	case bps < 1e6:
		return fmt.Sprintf("%.1f kbit/s", bps/1000)
	default:
		return fmt.Sprintf("%.1f Mbit/s", bps/1e6)
	}
}
