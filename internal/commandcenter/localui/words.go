package localui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
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
	// DisplayName is the name the site gave the printer ("" → none);
	// Name shows it in place of the printer's own.
	DisplayName string
	Retired     bool
	RetiredAt   string
}

// viewOf says p in words of lang.
func viewOf(lang i18n.Lang, p commandcenter.Printer) printerView {
	unknown := lang.T("not known yet")
	v := printerView{
		ID: p.ID, Name: p.Address, Address: p.Address, Model: unknown, Fingerprint: string(p.Fingerprint),
		State: unknown, PendingJobs: unknown, LastSeen: stamp(lang, time.Time{}),
		CollectionClass: strings.ReplaceAll(string(p.State), " ", "-"),
	}
	if p.Identity != nil {
		v.Name, v.Model = p.Identity.Name, p.Identity.Model
		if v.Name == "" {
			v.Name = p.Address
		}
	}
	if p.DisplayName != "" {
		v.Name, v.DisplayName = p.DisplayName, p.DisplayName
	}
	if !p.LastSeen.IsZero() {
		v.LastSeen = stamp(lang, p.LastSeen)
	}
	switch p.State {
	case commandcenter.CollectionOK:
		v.Collection = lang.T("ok")
	case commandcenter.CollectionNew:
		v.Collection = lang.T("waiting for first contact")
	case commandcenter.CollectionUnreachable:
		v.Collection = lang.T("unreachable since %s: %s", stamp(lang, p.StateSince), p.LastError)
	case commandcenter.CollectionBadInput:
		v.Collection = lang.T("answers partly refused since %s: %s", stamp(lang, p.StateSince), p.LastError)
	case commandcenter.CollectionCertificateChanged, commandcenter.CollectionNotPaired:
		v.Collection = p.LastError
	default:
		v.Collection = string(p.State)
	}
	if p.Retired() {
		v.Retired, v.RetiredAt = true, stamp(lang, p.RetiredAt)
		v.Collection, v.CollectionClass = lang.T("retired since %s: not polled, history kept", v.RetiredAt), "retired"
	}
	if s := p.Status; s != nil {
		v.State = stateWords(lang, s.State)
		if p.State != commandcenter.CollectionOK {
			v.State = lang.T("last known: %s", v.State)
		}
		v.Activity = lang.Activity(s.Activity)
		v.PendingJobs = fmt.Sprint(s.PendingJobs)
		if s.ETCSeconds > 0 {
			v.ETC = durationWords(lang, time.Duration(s.ETCSeconds)*time.Second)
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
func stateWords(lang i18n.Lang, s fleet.State) string {
	switch s {
	case fleet.StateIdle:
		return lang.T("powered on, idle")
	case fleet.StatePrinting:
		return lang.T("powered on, printing")
	case fleet.StateCooling:
		return lang.T("powered on, cooling")
	case fleet.StateError:
		return lang.T("error")
	default:
		return lang.T("unknown")
	}
}

// stamp writes a time as commandcenter.Stamp does, a numeric date that
// reads the same in every language, and "never" in lang for none.
func stamp(lang i18n.Lang, t time.Time) string {
	if t.IsZero() {
		return lang.T("never")
	}
	return commandcenter.Stamp(t)
}

// stampOrDash writes a time as stamp does, "–" for none.
func stampOrDash(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return commandcenter.Stamp(t)
}

// durationWords says d as commandcenter.DurationWords does, in lang.
func durationWords(lang i18n.Lang, d time.Duration) string {
	m := int64(d.Round(time.Minute) / time.Minute)
	switch {
	case m < 1:
		return lang.T("under a minute")
	case m < 60:
		return lang.T("%d min", m)
	default:
		return lang.T("%d h %02d min", m/60, m%60)
	}
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
