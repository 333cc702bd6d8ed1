package restapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// operatorWrite admits operators and admins with a read-write token.
var operatorWrite = access.Requirement{Role: fleet.RoleOperator, Write: true}

// listAlerts lists the alerts of the token's sites: active ones first (worst
// first), then the newest.
func (h *alertAPI) listAlerts(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	q := r.URL.Query()
	f := alert.Filter{Sites: p.Sites, PrinterID: fleet.PrinterID(q.Get("printer"))}
	switch q.Get("status") {
	case "", "all":
	case "active":
		f.Status = alert.ActiveOnly
	case "resolved":
		f.Status = alert.ResolvedOnly
	default:
		return badRequest("Parameter status must be one of active, resolved, all.")
	}
	if s := q.Get("site"); s != "" {
		site := fleet.SiteID(s)
		if !p.Sites.Allows(site) {
			f.Sites = access.OnlySites()
		} else {
			f.Sites = access.OnlySites(site)
		}
	}
	var err error
	if f.From, err = timeParam(q, "from"); err != nil {
		return err
	}
	if f.To, err = timeParam(q, "to"); err != nil {
		return err
	}
	if f.Offset, err = intParam(q, "offset", 0, 0, 100000); err != nil {
		return err
	}
	if f.Limit, err = intParam(q, "limit", alert.DefaultLimit, 1, alert.MaxLimit); err != nil {
		return err
	}
	out, err := h.alerts.Alerts(r.Context(), p.Org, f)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, nonNil(out))
	return nil
}

// visibleAlert is the alert of the path if p may see its site.
func (h *alertAPI) visibleAlert(r *http.Request, p access.Principal) (fleet.Alert, error) {
	a, err := h.alerts.Alert(r.Context(), p.Org, fleet.AlertID(r.PathValue("id")))
	if err != nil {
		return a, err
	}
	if !p.Sites.Allows(a.SiteID) {
		return fleet.Alert{}, fleet.ErrNotFound
	}
	return a, nil
}

func (h *alertAPI) getAlert(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	a, err := h.visibleAlert(r, p)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, a)
	return nil
}

// ackAlert acknowledges an alert for the token's owner; the first
// acknowledgement stays.
func (h *alertAPI) ackAlert(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	a, err := h.visibleAlert(r, p)
	if err != nil {
		return err
	}
	if err := h.alerts.AckAlert(r.Context(), p.Org, a.ID, p.User.ID, h.clock.Now()); err != nil {
		return err
	}
	return h.getAlert(w, r, p)
}

type assignJSON struct {
	UserID *fleet.UserID `json:"user_id"` // null: nobody
}

// assignAlert gives an alert to a user of the organisation who can see
// its site, or (user_id null) to nobody.
func (h *alertAPI) assignAlert(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in assignJSON
	if err := decode(r.Body, &in); err != nil {
		return err
	}
	a, err := h.visibleAlert(r, p)
	if err != nil {
		return err
	}
	var user fleet.UserID
	if in.UserID != nil && *in.UserID != "" {
		user = *in.UserID
		m, err := h.members.Member(r.Context(), p.Org, user)
		if errors.Is(err, fleet.ErrNotFound) {
			return badRequest("user_id must name a user of your organisation.")
		}
		if err != nil {
			return err
		}
		if !m.Sites.Allows(a.SiteID) {
			return badRequest("That user cannot see the site of this alert's printer.")
		}
	}
	if err := h.alerts.AssignAlert(r.Context(), p.Org, a.ID, user); err != nil {
		return err
	}
	return h.getAlert(w, r, p)
}

type ruleJSON struct {
	Key         fleet.RuleKey  `json:"key"`
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	Muted       bool           `json:"muted"`
	Custom      *customRuleOut `json:"custom,omitempty"`
}

type customRuleOut struct {
	ID        string         `json:"id"`
	SiteID    fleet.SiteID   `json:"site_id,omitempty"`
	Metric    alert.Metric   `json:"metric"`
	Op        string         `json:"comparison"`
	Threshold float64        `json:"threshold"`
	Severity  fleet.Severity `json:"severity"`
	Created   time.Time      `json:"created"`
}

// alertRules lists the built-in rules and the organisation's custom ones
// (those of the token's sites), with whether each is muted.
func (h *alertAPI) alertRules(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	rules, err := h.rules.AlertRules(r.Context(), p.Org)
	if err != nil {
		return err
	}
	out := []ruleJSON{}
	for _, b := range alert.Builtins(alert.Options{}) {
		out = append(out, ruleJSON{Key: b.Key, Title: b.Title, Description: b.Description, Muted: rules.IsMuted(b.Key)})
	}
	for _, c := range rules.Custom {
		if c.SiteID != "" && !p.Sites.Allows(c.SiteID) {
			continue
		}
		out = append(out, ruleJSON{Key: c.Key(), Title: c.Title(), Muted: rules.IsMuted(c.Key()), Custom: &customRuleOut{
			ID: c.ID, SiteID: c.SiteID, Metric: c.Metric, Op: string(c.Op), Threshold: c.Threshold, Severity: c.Severity, Created: c.Created}})
	}
	h.encode(w, http.StatusOK, out)
	return nil
}

type createRuleJSON struct {
	Metric    alert.Metric `json:"metric"`
	Op        string       `json:"comparison"`
	Threshold *float64     `json:"threshold"`
	Severity  string       `json:"severity"`
	SiteID    fleet.SiteID `json:"site_id"`
}

// createAlertRule adds a custom threshold rule.
func (h *alertAPI) createAlertRule(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in createRuleJSON
	if err := decode(r.Body, &in); err != nil {
		return err
	}
	rule := alert.CustomRule{OrgID: p.Org, SiteID: in.SiteID, Metric: in.Metric, Op: alert.Comparison(in.Op), Created: h.clock.Now()}
	if in.Threshold == nil {
		return badRequest("threshold is required.")
	}
	rule.Threshold = *in.Threshold
	if err := rule.Severity.UnmarshalText([]byte(in.Severity)); err != nil {
		return badRequest("severity must be one of info, warning, error, critical.")
	}
	switch {
	case in.SiteID == "" && p.Sites.Limited():
		return badRequest("site_id is required: the token may not set rules for every site.")
	case in.SiteID != "" && !p.Sites.Allows(in.SiteID):
		return badRequest("site_id must name a site of your organisation.")
	}
	if err := rule.Validate(); err != nil {
		switch {
		case errors.Is(err, alert.ErrMetric):
			return badRequest("metric must be one of the metrics listed in the API description.")
		case errors.Is(err, alert.ErrOp):
			return badRequest("comparison must be one of <, <=, >, >=.")
		case errors.Is(err, alert.ErrThreshold):
			return badRequest("threshold must be a finite number of at most 1e12.")
		}
		return err
	}
	id, err := h.rules.CreateAlertRule(r.Context(), rule)
	if errors.Is(err, fleet.ErrNotFound) {
		return badRequest("site_id must name a site of your organisation.")
	}
	if err != nil {
		return err
	}
	rule.ID = id
	h.encode(w, http.StatusCreated, ruleJSON{Key: rule.Key(), Title: rule.Title(), Custom: &customRuleOut{
		ID: id, SiteID: rule.SiteID, Metric: rule.Metric, Op: string(rule.Op), Threshold: rule.Threshold, Severity: rule.Severity, Created: rule.Created}})
	return nil
}

// deleteAlertRule deletes a custom rule of the token's sites; its active
// listAlerts resolve.
func (h *alertAPI) deleteAlertRule(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	rules, err := h.rules.AlertRules(r.Context(), p.Org)
	if err != nil {
		return err
	}
	for _, c := range rules.Custom {
		if c.ID == r.PathValue("id") && p.CanActOn(c.SiteID) == nil {
			if err := h.rules.DeleteAlertRule(r.Context(), p.Org, c.ID, h.clock.Now()); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	}
	return fleet.ErrNotFound
}

type muteJSON struct {
	Muted *bool `json:"muted"`
}

// muteAlertRule mutes or unmutes a rule for the organisation: a built-in
// rule or a custom one for every site only by an administrator for all
// sites, a custom rule of a site by one for that site.
func (h *alertAPI) muteAlertRule(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in muteJSON
	if err := decode(r.Body, &in); err != nil {
		return err
	}
	if in.Muted == nil {
		return badRequest("muted is required.")
	}
	key := fleet.RuleKey(r.PathValue("key"))
	rules, err := h.rules.AlertRules(r.Context(), p.Org)
	if err != nil {
		return err
	}
	if err := p.CanActOn(rules.SiteOf(key)); err != nil {
		return err
	}
	if err := h.rules.SetRuleMuted(r.Context(), p.Org, key, *in.Muted); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
