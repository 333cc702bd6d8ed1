package mqttfeed

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/privacy"
)

// The payloads, one JSON object per message; docs/mqtt.md shows examples.
// Their fields only grow: an MES reading them ignores what it does not know.

// statusPayload is the Command Center's own status: the birth message,
// the last will and the farewell of a clean stop.
type statusPayload struct {
	State  string    `json:"state"` // online, offline
	Since  time.Time `json:"since,omitzero"`
	Reason string    `json:"reason,omitempty"` // why offline: "connection lost" (the will), "stopped"
}

// statePayload is a printer's current state, retained.
type statePayload struct {
	Printer fleet.PrinterID `json:"printer"`
	LocalID int64           `json:"local_id"` // the Command Center's number for the printer
	// Address is the printer's LAN address; not with the allow-list.
	Address         string                        `json:"address,omitempty"`
	Collection      commandcenter.CollectionState `json:"collection"` // whether the Command Center reaches it
	CollectionSince time.Time                     `json:"collection_since,omitzero"`
	// LastError says why collection fails; not with the allow-list.
	LastError string    `json:"last_error,omitempty"`
	Seen      time.Time `json:"seen,omitzero"` // when the Command Center last read the printer
	// Identity is a deviceapi.Identity, or with the allow-list a
	// fleet.Identity; Status likewise a deviceapi.Status (the current job
	// with its names) or a fleet.Status.
	Identity any `json:"identity"`
	Status   any `json:"status,omitempty"`
}

// eventPayload is one event of a printer.
type eventPayload struct {
	Printer fleet.PrinterID `json:"printer"`
	LocalID int64           `json:"local_id"`
	Seen    time.Time       `json:"seen"` // when the Command Center read it
	Event   fleet.Event     `json:"event"`
}

// jobPayload is one change of a printer's job: its latest report.
type jobPayload struct {
	Printer fleet.PrinterID `json:"printer"`
	LocalID int64           `json:"local_id"`
	Updated time.Time       `json:"updated"` // when the Command Center read the change
	// Seq numbers the change in the printer's jobs feed: a later change
	// of the job has a greater one.
	Seq uint64 `json:"seq"`
	// Job is a deviceapi.Job (names and parts included), or with the
	// allow-list a fleet.Job, whose parts are then in Parts.
	Job   any          `json:"job"`
	Parts []fleet.Part `json:"parts,omitempty"`
}

// topicKey is the topic level naming printer id: MQTT's separators and
// wildcards (/, +, #) and control characters become "_".
func topicKey(id fleet.PrinterID) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '+' || r == '#' || r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, string(id))
}

// topics names the topics of a feed under prefix.
type topics struct{ prefix string }

func (t topics) status() string { return t.prefix + "/status" }
func (t topics) printer(id fleet.PrinterID, what string) string {
	return t.prefix + "/printers/" + topicKey(id) + "/" + what
}

// payloads builds the messages' payloads, by the allow-list or not.
type payloads struct {
	allowList bool
	// names are the private names seen lately, redacted from free text
	// with the allow-list.
	names *privacy.Names
}

// learn notes the private names a printer's current job carries.
func (p payloads) learnStatus(s *deviceapi.Status) {
	if s != nil && s.Job != nil {
		p.names.Add(s.Job.Private.Name, s.Job.Private.User, s.Job.Private.Host)
	}
}

func (p payloads) learnJob(j deviceapi.Job) {
	p.names.Add(j.Private.Name, j.Private.User, j.Private.Host)
	for _, part := range j.Parts {
		p.names.Add(part.Private.Name)
	}
}

func (p payloads) state(pr commandcenter.Printer) ([]byte, error) {
	id := pr.Identity.PrinterID
	out := statePayload{Printer: id, LocalID: pr.ID, Address: pr.Address, Collection: pr.State, CollectionSince: pr.StateSince,
		LastError: pr.LastError, Seen: pr.LastSeen, Identity: pr.Identity}
	if pr.Status != nil {
		out.Status = pr.Status
	}
	if p.allowList {
		out.Address, out.LastError = "", ""
		ident := privacy.Identity(*pr.Identity)
		rec := fleet.Record{Identity: &ident}
		if pr.Status != nil {
			st := privacy.Status(id, *pr.Status)
			rec.Status = &st
			out.Status = &st
		}
		p.names.Scrub(&rec)
		out.Identity = &ident
	}
	return json.Marshal(out)
}

func (p payloads) event(id fleet.PrinterID, e commandcenter.LocalEvent) ([]byte, error) {
	out := eventPayload{Printer: id, LocalID: e.Printer, Seen: e.Seen, Event: e.Event}
	if p.allowList {
		out.Event = privacy.Event(e.Event)
		p.names.Scrub(&fleet.Record{Event: &out.Event})
	}
	return json.Marshal(out)
}

func (p payloads) job(id fleet.PrinterID, j commandcenter.LocalJob) ([]byte, error) {
	out := jobPayload{Printer: id, LocalID: j.Printer, Updated: j.Updated, Seq: j.Job.Seq, Job: j.Job}
	if p.allowList {
		job := privacy.Job(j.Job, "")
		p.names.Scrub(&fleet.Record{Job: &job})
		out.Job = &job
		for _, part := range j.Job.Parts {
			pt := privacy.Part(part)
			p.names.Scrub(&fleet.Record{Part: &pt})
			out.Parts = append(out.Parts, pt)
		}
	}
	return json.Marshal(out)
}
