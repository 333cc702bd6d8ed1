package commandcenter

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/privacy"
)

// The privacy allow-list drops every private field, but a printer may
// write a job's or a part's name into free text: an event's description, a
// log line, a warning. So the poller keeps the site's private names (job,
// user, computer and part names, geometry references) as it reads them,
// before it builds any record, and scrubs every record it appends of them
// (R-PRIV-2). The names live on in the local jobs table and in each
// printer's latest status, which hold them for the local UI anyway; a
// restarted gateway loads the recent ones before its first poll.

const (
	// privateNameLimit bounds the names kept in memory.
	privateNameLimit = privacy.DefaultNameLimit
	// privateNameJobs is how many of the most recently changed jobs' names
	// are loaded at start.
	privateNameJobs = 500
)

// statusNames returns the private names of a status's current job.
func statusNames(s deviceapi.Status) []string {
	if s.Job == nil {
		return nil
	}
	return []string{s.Job.Private.Name, s.Job.Private.User, s.Job.Private.Host}
}

// jobNames returns the private names of a jobs-feed entry and its parts.
func jobNames(j deviceapi.Job) []string {
	names := make([]string, 0, 3+2*len(j.Parts))
	names = append(names, j.Private.Name, j.Private.User, j.Private.Host)
	for _, p := range j.Parts {
		names = append(names, p.Private.Name, p.Private.GeometryRef)
	}
	return names
}

// loadNames fills the poller's names from the store, once.
func (p *Poller) loadNames(ctx context.Context) error {
	if p.namesLoaded.Load() {
		return nil
	}
	p.namesMu.Lock()
	defer p.namesMu.Unlock()
	if p.namesLoaded.Load() {
		return nil
	}
	names, err := p.st.recentPrivateNames(ctx, privateNameJobs)
	if err != nil {
		return err
	}
	p.names.Add(names...)
	p.namesLoaded.Store(true)
	return nil
}

// recentPrivateNames returns the private names of the limit most recently
// changed jobs of the site, oldest first, then those of the printers'
// current jobs. A corrupt row is an error: scrubbing without the names
// would not be scrubbing.
func (s *Store) recentPrivateNames(ctx context.Context, limit int) ([]string, error) {
	jobs, err := queryHistory(ctx, s, "private names of jobs", `SELECT printer, updated, job FROM jobs
		ORDER BY updated DESC, feed_seq DESC LIMIT ?`, []any{limit},
		func(_ int64, _ time.Time, j deviceapi.Job) deviceapi.Job { return j })
	if err != nil {
		return nil, fmt.Errorf("load private names: %w", err)
	}
	var names []string
	for _, j := range slices.Backward(jobs) {
		names = append(names, jobNames(j)...)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, status FROM printers WHERE status != ''`)
	if err != nil {
		return nil, fmt.Errorf("load private names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id int64
			b  string
			st deviceapi.Status
		)
		if err := rows.Scan(&id, &b); err != nil {
			return nil, fmt.Errorf("load private names: %w", err)
		}
		if err := json.Unmarshal([]byte(b), &st); err != nil {
			return nil, fmt.Errorf("load private names: status of printer %d: corrupt row: %w", id, err)
		}
		names = append(names, statusNames(st)...)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load private names: %w", err)
	}
	return names, nil
}

// scrub replaces the site's private names in every record of the run. A
// record that scrubbing left invalid (a printer wrote a name into an
// identifier, which must be random) is withheld, and a gap in its place
// says so: loss made visible, never a leak.
func (r *pollRun) scrub() {
	for i := range r.recs {
		rec := &r.recs[i]
		r.p.names.Scrub(rec)
		check := *rec
		check.Seq = 1 // numbered when appended
		if check.Validate() == nil {
			continue
		}
		g := withheld(*rec)
		*rec = fleet.Record{Kind: fleet.KindGap, PrinterID: rec.PrinterID, Time: rec.Time, Gap: &g}
		r.obs.History.Gaps = append(r.obs.History.Gaps, g)
	}
}

// withheld returns the gap that stands for a record withheld by scrub.
func withheld(rec fleet.Record) fleet.Gap {
	g := fleet.Gap{Reason: fmt.Sprintf("%s withheld: an identifier in it holds a private name", rec.Kind)}
	switch {
	case rec.Event != nil:
		g.Feed, g.FromSeq, g.ToSeq = "events", rec.Event.Seq, rec.Event.Seq
	case rec.Layer != nil:
		g.Feed, g.FromSeq, g.ToSeq = "layers", rec.Layer.Seq, rec.Layer.Seq
	case rec.Log != nil:
		g.Feed, g.FromSeq, g.ToSeq = "logs/"+string(rec.Log.Log), rec.Log.Seq, rec.Log.Seq
	case rec.Job != nil, rec.Part != nil:
		g.Feed = "jobs"
	default:
		g.Feed = string(rec.Kind)
	}
	return g
}
