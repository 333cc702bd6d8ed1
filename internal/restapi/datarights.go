package restapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/orgexport"
)

// dataAPI is the organisation's audit log and the export of all its data
// (R-SEC-7, R-PRIV-5), for its administrators for all sites.
type dataAPI struct {
	*handler
	audit  audit.Reader
	export orgexport.Source
}

const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// auditFilter reads from, to (RFC 3339), action, actor and before.
func auditFilter(q url.Values) (audit.Filter, error) {
	var f audit.Filter
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, badRequest(p.name + " must be an RFC 3339 time, like 2026-03-01T00:00:00Z.")
			}
			*p.t = t
		}
	}
	f.Action, f.Actor = q.Get("action"), q.Get("actor")
	if len(f.Action) > 64 || len(f.Actor) > 128 {
		return f, badRequest("action or actor is too long.")
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, badRequest("before must be a positive entry number.")
		}
		f.Before = n
	}
	return f, nil
}

// auditPage is one page of the audit log with the chain's verification.
type auditPage struct {
	Entries []audit.EntryJSON `json:"entries"`
	// NextBefore pages on: pass it as before for older entries; null on
	// the last page.
	NextBefore *int64     `json:"next_before"`
	Chain      chainState `json:"chain"`
}

type chainState struct {
	Verified bool     `json:"verified"`
	HeadSeq  int64    `json:"head_seq"`
	HeadHash string   `json:"head_hash"`
	Problems []string `json:"problems"`
}

func (h *dataAPI) auditLog(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	q := r.URL.Query()
	f, err := auditFilter(q)
	if err != nil {
		return err
	}
	limit, err := intParam(q, "limit", defaultAuditLimit, 1, maxAuditLimit)
	if err != nil {
		return err
	}
	f.Limit = limit + 1
	out := auditPage{Entries: []audit.EntryJSON{}}
	err = h.audit.AuditEntries(r.Context(), p.Org, f, func(x audit.Entry) error { out.Entries = append(out.Entries, x.JSON()); return nil })
	if err != nil {
		return err
	}
	if len(out.Entries) > limit {
		out.Entries = out.Entries[:limit]
		next := out.Entries[limit-1].Seq
		out.NextBefore = &next
	}
	head, problems, err := h.audit.VerifyAudit(r.Context(), p.Org, nil)
	if err != nil {
		return err
	}
	out.Chain = chainState{Verified: len(problems) == 0, HeadSeq: head.Seq, HeadHash: head.Hash, Problems: []string{}}
	for _, pr := range problems {
		out.Chain.Problems = append(out.Chain.Problems, pr.String())
	}
	h.encode(w, http.StatusOK, out)
	return nil
}

// auditExport streams every entry the filter selects, newest first, as
// JSON lines or CSV.
func (h *dataAPI) auditExport(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	q := r.URL.Query()
	f, err := auditFilter(q)
	if err != nil {
		return err
	}
	format, err := audit.ParseFormat(q.Get("format"))
	if err != nil {
		return badRequest("format must be jsonl or csv.")
	}
	w.Header().Set("Content-Type", format.ContentType())
	x, err := audit.NewExporter(w, format)
	if err != nil {
		return err
	}
	if err := h.audit.AuditEntries(r.Context(), p.Org, f, x.Write); err != nil {
		return err
	}
	return x.Flush()
}

// exportData streams all of the organisation's data as one JSON document
// with its manifest (see package orgexport), after recording the export
// in the audit log.
func (h *dataAPI) exportData(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	now := h.clock.Now()
	if err := h.handler.audit.Record(r.Context(), audit.Event{Time: now, Org: p.Org, ActorOrg: p.User.OrgID, Actor: p.User.ID,
		Name: p.User.Name, Action: "export", Detail: "all of the organisation's data (API token " + string(p.TokenID) + ")"}); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err := orgexport.Stream(r.Context(), w, h.export, p.Org, now)
	return err
}
