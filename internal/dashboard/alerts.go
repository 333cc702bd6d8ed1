package dashboard

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// alertPages are the alerts and alert rules pages: alerts, rules, the
// members to assign alerts to, and the sites to filter by.
type alertPages struct {
	*handler
	sites   access.Sites
	alerts  alert.Tracker
	rules   alert.RuleEditor
	members access.Members
}

// operatorPost admits operators and admins to change alerts.
var operatorPost = access.Requirement{Role: fleet.RoleOperator, Write: true}

// alertPeriods are the periods (in days) of past alerts the page offers.
var alertPeriods = []int{1, 7, 30, 90}

const (
	defaultAlertDays = 7
	pastAlertsPage   = 50
)

// alertRow is one alert as the alerts page shows it.
type alertRow struct {
	fleet.Alert
	DetailWords  string // Detail in the reader's language, where it is a printer's phrase
	SiteName     string
	AckedByName  string
	AssigneeName string
	Muted        bool
	CanMute      bool // the reader may mute or unmute the alert's rule
}

// alertsData fills the alerts page.
type alertsData struct {
	Active  []alertRow
	Past    []alertRow
	Sites   []fleet.Site
	Site    fleet.SiteID // the site filter, "" for all
	Days    int
	Periods []int
	Page    int  // of past alerts, from 1
	More    bool // a next page of past alerts exists
	Members []access.Member
	CanAct  bool // may acknowledge and assign
	Message string
}

// NewerURL and OlderURL link to the neighbouring pages of past alerts.
func (d alertsData) NewerURL() string { return d.pageURL(d.Page - 1) }

// OlderURL: see NewerURL.
func (d alertsData) OlderURL() string { return d.pageURL(d.Page + 1) }

// pageURL links to page n of the past alerts with the same filter.
func (d alertsData) pageURL(n int) string {
	q := url.Values{}
	if d.Site != "" {
		q.Set("site", string(d.Site))
	}
	q.Set("days", strconv.Itoa(d.Days))
	q.Set("page", strconv.Itoa(n))
	return "/alerts?" + q.Encode()
}

// alertsPage lists the active alerts and the past ones of a period.
func (h *alertPages) alertsPage(w http.ResponseWriter, r *http.Request, s session) {
	h.showAlerts(w, r, s, http.StatusOK, "")
}

func (h *alertPages) showAlerts(w http.ResponseWriter, r *http.Request, s session, status int, msg string) {
	d, err := h.alertsData(r, s)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	d.Message = msg
	h.render(w, r, status, "alerts.html", page{Title: "Alerts", User: &s.user, CSRF: s.csrf, Data: d})
}

func (h *alertPages) alertsData(r *http.Request, s session) (alertsData, error) {
	q := r.URL.Query()
	d := alertsData{Days: defaultAlertDays, Periods: alertPeriods, Page: 1,
		CanAct: s.p.Role >= fleet.RoleOperator}
	if n, err := strconv.Atoi(q.Get("days")); err == nil && n >= 1 && n <= 366 {
		d.Days = n
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n >= 1 && n <= 10000 {
		d.Page = n
	}
	var err error
	if d.Sites, err = visibleSites(r, h.sites, s.p); err != nil {
		return d, err
	}
	sites := s.p.Sites
	for _, st := range d.Sites {
		if string(st.ID) == q.Get("site") {
			d.Site, sites = st.ID, access.OnlySites(st.ID)
		}
	}
	ctx, org := r.Context(), s.p.Org
	active, err := h.alerts.Alerts(ctx, org, alert.Filter{Status: alert.ActiveOnly, Sites: sites, Limit: alert.MaxLimit})
	if err != nil {
		return d, err
	}
	now := h.clock.Now()
	past, err := h.alerts.Alerts(ctx, org, alert.Filter{Status: alert.ResolvedOnly, Sites: sites,
		From: now.AddDate(0, 0, -d.Days), Limit: pastAlertsPage + 1, Offset: (d.Page - 1) * pastAlertsPage})
	if err != nil {
		return d, err
	}
	if len(past) > pastAlertsPage {
		past, d.More = past[:pastAlertsPage], true
	}
	if d.Members, err = h.members.Members(ctx, org); err != nil {
		return d, err
	}
	rules, err := h.rules.AlertRules(ctx, org)
	if err != nil {
		return d, err
	}
	names := map[fleet.UserID]string{}
	for _, m := range d.Members {
		names[m.ID] = m.Name
	}
	siteNames := map[fleet.SiteID]string{}
	for _, st := range d.Sites {
		siteNames[st.ID] = st.Name
	}
	lang, _ := h.locale(r)
	row := func(a fleet.Alert) alertRow {
		if a.PrinterName == "" {
			a.PrinterName = string(a.PrinterID)
		}
		return alertRow{Alert: a, DetailWords: detailWords(lang, a.Detail), SiteName: siteNames[a.SiteID], AckedByName: names[a.AckedBy],
			AssigneeName: names[a.Assignee], Muted: rules.IsMuted(a.Rule), CanMute: mayChangeRule(s.p, rules, a.Rule, now) == nil}
	}
	for _, a := range active {
		d.Active = append(d.Active, row(a))
	}
	for _, a := range past {
		d.Past = append(d.Past, row(a))
	}
	return d, nil
}

// visibleAlert loads the alert of the path if the principal may see it:
// another organisation's, or one at a site the principal may not see, is
// fleet.ErrNotFound.
func (h *alertPages) visibleAlert(r *http.Request, p access.Principal) (fleet.Alert, error) {
	a, err := h.alerts.Alert(r.Context(), p.Org, fleet.AlertID(r.PathValue("id")))
	if err != nil {
		return a, err
	}
	if !p.Sites.Allows(a.SiteID) {
		return fleet.Alert{}, fleet.ErrNotFound
	}
	return a, nil
}

// alertFailed answers an alert form's error on the alerts page.
func (h *alertPages) alertFailed(w http.ResponseWriter, r *http.Request, s session, err error) {
	if isNotFound(err) {
		err = &formError{http.StatusNotFound, "No such alert in your organisation."}
	}
	h.formFailed(w, r, s, err, func(status int, msg string) { h.showAlerts(w, r, s, status, msg) })
}

// ackAlert acknowledges an alert: someone is on it.
func (h *alertPages) ackAlert(w http.ResponseWriter, r *http.Request, s session) {
	a, err := h.visibleAlert(r, s.p)
	if err == nil {
		err = h.alerts.AckAlert(r.Context(), s.p.Org, a.ID, s.user.ID, h.clock.Now())
	}
	if err != nil {
		h.alertFailed(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/alerts", http.StatusSeeOther)
}

// assignAlert gives an alert to a user of the organisation who can see its
// site, or to nobody.
func (h *alertPages) assignAlert(w http.ResponseWriter, r *http.Request, s session) {
	err := func() error {
		a, err := h.visibleAlert(r, s.p)
		if err != nil {
			return err
		}
		user := fleet.UserID(r.PostFormValue("user"))
		if user != "" {
			m, err := h.members.Member(r.Context(), s.p.Org, user)
			if isNotFound(err) {
				return badForm("Please pick a user of your organisation.")
			}
			if err != nil {
				return err
			}
			if !m.Sites.Allows(a.SiteID) {
				return badForm("That user cannot see the site of this printer.")
			}
		}
		return h.alerts.AssignAlert(r.Context(), s.p.Org, a.ID, user)
	}()
	if err != nil {
		h.alertFailed(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/alerts", http.StatusSeeOther)
}

// ruleRow is one rule on the rules page.
type ruleRow struct {
	Key         fleet.RuleKey
	Title       string
	Description string
	SiteName    string // custom rules limited to a site
	ID          string // custom rules
	Severity    fleet.Severity
	Muted       bool
	CanChange   bool // the reader may mute, unmute (and delete, if custom) it
}

// rulesData fills the alert rules page.
type rulesData struct {
	Builtin    []ruleRow
	Custom     []ruleRow
	Sites      []fleet.Site
	Metrics    []alert.MetricInfo
	Ops        []alert.Comparison
	Severities []fleet.Severity
	CanAdmin   bool // may add rules
	// CanAllSites: the reader may add a rule for every site, not only
	// for one of theirs.
	CanAllSites bool
	Message     string
	Form        ruleForm // what was sent, to show again after an error
}

// ruleForm is the custom rule form as sent.
type ruleForm struct {
	Metric, Op, Threshold, Severity, Site string
}

func (h *alertPages) alertRulesPage(w http.ResponseWriter, r *http.Request, s session) {
	h.showRules(w, r, s, http.StatusOK, rulesData{Form: ruleForm{Op: "<", Severity: "warning"}})
}

func (h *alertPages) showRules(w http.ResponseWriter, r *http.Request, s session, status int, d rulesData) {
	rules, err := h.rules.AlertRules(r.Context(), s.p.Org)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if d.Sites, err = visibleSites(r, h.sites, s.p); err != nil {
		h.internalError(w, r, err)
		return
	}
	siteNames := map[fleet.SiteID]string{}
	for _, st := range d.Sites {
		siteNames[st.ID] = st.Name
	}
	now := h.clock.Now()
	for _, b := range alert.Builtins(alert.Options{}) {
		d.Builtin = append(d.Builtin, ruleRow{Key: b.Key, Title: b.Title, Description: b.Description, Muted: rules.IsMuted(b.Key),
			CanChange: mayChangeRule(s.p, rules, b.Key, now) == nil})
	}
	for _, c := range rules.Custom {
		if c.SiteID != "" && !s.p.Sites.Allows(c.SiteID) {
			continue
		}
		d.Custom = append(d.Custom, ruleRow{Key: c.Key(), Title: c.Title(), ID: c.ID, SiteName: siteNames[c.SiteID],
			Severity: c.Severity, Muted: rules.IsMuted(c.Key()), CanChange: mayChangeRule(s.p, rules, c.Key(), now) == nil})
	}
	d.Metrics = alert.Metrics()
	d.Ops = []alert.Comparison{alert.Below, alert.AtMost, alert.Above, alert.AtLeast}
	d.Severities = []fleet.Severity{fleet.SeverityInfo, fleet.SeverityWarning, fleet.SeverityError, fleet.SeverityCritical}
	d.CanAdmin = access.Check(s.p, adminPost, now) == nil
	d.CanAllSites = d.CanAdmin && s.p.CanActOn("") == nil
	h.render(w, r, status, "alert_rules.html", page{Title: "Alert rules", User: &s.user, CSRF: s.csrf, Data: d})
}

// createAlertRule adds a custom threshold rule.
func (h *alertPages) createAlertRule(w http.ResponseWriter, r *http.Request, s session) {
	f := ruleForm{Metric: r.PostFormValue("metric"), Op: r.PostFormValue("op"), Threshold: strings.TrimSpace(r.PostFormValue("threshold")),
		Severity: r.PostFormValue("severity"), Site: r.PostFormValue("site")}
	err := func() error {
		rule, err := h.parseRule(r, s, f)
		if err != nil {
			return err
		}
		_, err = h.rules.CreateAlertRule(r.Context(), rule)
		return err
	}()
	if err != nil {
		h.formFailed(w, r, s, err, func(status int, msg string) {
			h.showRules(w, r, s, status, rulesData{Message: msg, Form: f})
		})
		return
	}
	http.Redirect(w, r, "/alerts/rules", http.StatusSeeOther)
}

// parseRule checks the custom rule form field by field, with a message
// for the first field that is wrong.
func (h *alertPages) parseRule(r *http.Request, s session, f ruleForm) (alert.CustomRule, error) {
	rule := alert.CustomRule{OrgID: s.p.Org, Metric: alert.Metric(f.Metric), Op: alert.Comparison(f.Op), Created: h.clock.Now()}
	th, err := strconv.ParseFloat(strings.ReplaceAll(f.Threshold, ",", "."), 64)
	switch {
	case f.Threshold == "":
		return rule, badForm("Please enter a threshold.")
	case err != nil || math.IsInf(th, 0) || math.IsNaN(th):
		return rule, badForm("The threshold must be a number, such as 15 or 2.5.")
	}
	rule.Threshold = th
	if err := rule.Severity.UnmarshalText([]byte(f.Severity)); err != nil {
		return rule, badForm("Please pick a severity from the list.")
	}
	if f.Site != "" {
		visible, err := visibleSites(r, h.sites, s.p)
		if err != nil {
			return rule, err
		}
		for _, st := range visible {
			if string(st.ID) == f.Site {
				rule.SiteID = st.ID
			}
		}
		if rule.SiteID == "" {
			return rule, badForm("Please pick sites from the list.")
		}
	} else if s.p.CanActOn("") != nil {
		return rule, badForm("Please pick one of your sites: you may not set rules for every site.")
	}
	if err := rule.Validate(); err != nil {
		switch {
		case errors.Is(err, alert.ErrMetric):
			return rule, badForm("Please pick a metric from the list.")
		case errors.Is(err, alert.ErrOp):
			return rule, badForm("Please pick a comparison from the list.")
		case errors.Is(err, alert.ErrThreshold):
			return rule, badForm("The threshold is too large.")
		}
		return rule, err
	}
	return rule, nil
}

// deleteAlertRule deletes a custom rule; its active alerts resolve.
func (h *alertPages) deleteAlertRule(w http.ResponseWriter, r *http.Request, s session) {
	err := func() error {
		rules, err := h.rules.AlertRules(r.Context(), s.p.Org)
		if err != nil {
			return err
		}
		for _, c := range rules.Custom {
			if c.ID == r.PathValue("id") && mayChangeRule(s.p, rules, c.Key(), h.clock.Now()) == nil {
				return h.rules.DeleteAlertRule(r.Context(), s.p.Org, c.ID, h.clock.Now())
			}
		}
		return &formError{http.StatusNotFound, "No such alert rule in your organisation."}
	}()
	if err != nil {
		h.formFailed(w, r, s, err, func(status int, msg string) { h.showRules(w, r, s, status, rulesData{Message: msg}) })
		return
	}
	http.Redirect(w, r, "/alerts/rules", http.StatusSeeOther)
}

// mayChangeRule decides whether p may mute, unmute or delete the rule key
// of rules at now: the administrators' route requirement, and the rule's
// site — a built-in rule or a custom one for every site only by an
// administrator for all sites, a custom rule of a site by one for that
// site. The handlers ask it, and so do the pages before they offer a
// button, so a page never offers what its handler refuses.
func mayChangeRule(p access.Principal, rules alert.Rules, key fleet.RuleKey, now time.Time) error {
	if err := access.Check(p, adminPost, now); err != nil {
		return err
	}
	return p.CanActOn(rules.SiteOf(key))
}

// muteRule mutes or unmutes a rule, if mayChangeRule allows.
func (h *alertPages) muteRule(r *http.Request, p access.Principal, key fleet.RuleKey, muted bool) error {
	rules, err := h.rules.AlertRules(r.Context(), p.Org)
	if err != nil {
		return err
	}
	if mayChangeRule(p, rules, key, h.clock.Now()) != nil {
		return &formError{http.StatusForbidden, "Only administrators for all sites may mute this rule."}
	}
	return h.rules.SetRuleMuted(r.Context(), p.Org, key, muted)
}

// muteAlertRule mutes (mute=on) or unmutes a rule for the organisation,
// then returns to the page the form was on.
func (h *alertPages) muteAlertRule(w http.ResponseWriter, r *http.Request, s session) {
	back := "/alerts/rules"
	if r.PostFormValue("back") == "alerts" {
		back = "/alerts"
	}
	err := h.muteRule(r, s.p, fleet.RuleKey(r.PathValue("rule")), r.PostFormValue("mute") == "on")
	if isNotFound(err) {
		err = &formError{http.StatusNotFound, "No such alert rule in your organisation."}
	}
	if err != nil {
		h.formFailed(w, r, s, err, func(status int, msg string) { h.showRules(w, r, s, status, rulesData{Message: msg}) })
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// cardAlert is the worst active alert of a printer, on its card.
type cardAlert struct {
	ID       fleet.AlertID  `json:"id"`
	Severity fleet.Severity `json:"severity"`
	Title    string         `json:"title"` // in the reader's words
	Words    string         `json:"words"` // "Error: Lamp weak or failed", for screen readers and the card
}

// addWorstAlerts puts on each card its printer's worst active alert.
func (h *printerPages) addWorstAlerts(r *http.Request, org fleet.OrgID, sp speech, cs []card) error {
	worst, err := h.worst.WorstAlerts(r.Context(), org)
	if err != nil {
		return err
	}
	for i := range cs {
		if a, ok := worst[cs[i].ID]; ok {
			title := sp.lang.T(a.Title)
			cs[i].Alert = &cardAlert{ID: a.ID, Severity: a.Severity, Title: title,
				Words: sp.lang.T("%s: %s", sp.lang.T(alertSeverityLabel(a.Severity)), title)}
		}
	}
	return nil
}

// alertSeverityLabel names a severity with a capital, for people.
func alertSeverityLabel(s fleet.Severity) string {
	switch s {
	case fleet.SeverityInfo:
		return "Info"
	case fleet.SeverityWarning:
		return "Warning"
	case fleet.SeverityError:
		return "Error"
	case fleet.SeverityCritical:
		return "Critical"
	}
	return "Unknown"
}

// SeverityLabel names a severity for templates.
func (p page) SeverityLabel(s fleet.Severity) string { return p.T(alertSeverityLabel(s)) }

// muteForm is the mute button of one rule.
type muteForm struct {
	ruleRow
	CSRF string
	p    page
}

// T translates for the mute button's template.
func (m muteForm) T(msg string, args ...any) string { return m.p.T(msg, args...) }

// MuteForm is the mute button of rule r on the rules page.
func (p page) MuteForm(r ruleRow) muteForm {
	return muteForm{ruleRow: r, CSRF: p.CSRF, p: p}
}
