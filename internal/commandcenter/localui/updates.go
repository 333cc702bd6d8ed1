package localui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/selfupdate"
)

// Errors of the update pages.
var (
	errUpdatesOff = errors.New("updates are not configured on this Command Center")
	errNoRelease  = fmt.Errorf("no such release in the mirror: %w", fleet.ErrNotFound)
)

// The Updates page and API: the site's policy and approvals of the
// releases the update mirror holds (commandcenter.UpdatePolicy).

type updatesData struct {
	layout
	Off      bool
	Policy   commandcenter.UpdatePolicy
	Releases []commandcenter.Release
	Weekdays []time.Weekday
	Message  string
	// Self is the Command Center's own version and upgrades; nil → not
	// shown.
	Self *selfupdate.Status
}

func (u *localUI) releases(ctx context.Context) ([]commandcenter.Release, commandcenter.UpdatePolicy, error) {
	if u.opts.Updates == nil {
		return nil, commandcenter.UpdatePolicy{}, errUpdatesOff
	}
	return u.src.Updates.Releases(ctx, u.opts.Updates, u.opts.Clock.Now())
}

func (u *localUI) updatesPage(w http.ResponseWriter, r *http.Request) error {
	l, err := u.newLayout(r, "Updates", "updates", false)
	if err != nil {
		return err
	}
	data := updatesData{layout: l, Message: r.URL.Query().Get("done")}
	for d := time.Sunday; d <= time.Saturday; d++ {
		data.Weekdays = append(data.Weekdays, d)
	}
	rels, p, err := u.releases(r.Context())
	switch {
	case errors.Is(err, errUpdatesOff):
		data.Off = true
	case err != nil:
		return err
	}
	data.Policy, data.Releases = p, rels
	if u.opts.SelfUpdate != nil {
		st := u.opts.SelfUpdate()
		data.Self = &st
	}
	return u.render(w, "updates", data)
}

func (u *localUI) apiUpdates(w http.ResponseWriter, r *http.Request) error {
	rels, p, err := u.releases(r.Context())
	if err != nil {
		return err
	}
	if rels == nil {
		rels = []commandcenter.Release{}
	}
	encode(w, http.StatusOK, struct {
		Policy   commandcenter.UpdatePolicy `json:"policy"`
		Releases []commandcenter.Release    `json:"releases"`
	}{p, rels})
	return nil
}

func (u *localUI) setUpdatePolicy(w http.ResponseWriter, r *http.Request) error {
	if u.opts.Updates == nil {
		return errUpdatesOff
	}
	if err := r.ParseForm(); err != nil {
		return badRequestf("bad form: %v", err)
	}
	num := func(name string) int {
		n, err := strconv.Atoi(r.PostForm.Get(name))
		if err != nil {
			return -1 // Validate names the field
		}
		return n
	}
	p := commandcenter.UpdatePolicy{Mode: commandcenter.UpdateMode(r.PostForm.Get("mode")), Weekday: time.Weekday(num("weekday")),
		StartHour: num("start_hour"), Hours: num("hours")}
	if err := p.Validate(); err != nil {
		return badRequestf("%v", err)
	}
	if err := u.src.Updates.SetUpdatePolicy(r.Context(), p); err != nil {
		return err
	}
	http.Redirect(w, r, "/updates?done=policy", http.StatusSeeOther)
	return nil
}

// approval answers POST /updates/{target}/approve and …/withdraw.
func (u *localUI) approval(approve bool) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		rels, _, err := u.releases(r.Context())
		if err != nil {
			return err
		}
		name := r.PathValue("target")
		if !slices.ContainsFunc(rels, func(rel commandcenter.Release) bool { return rel.Name == name }) {
			return fmt.Errorf("release %q: %w", name, errNoRelease)
		}
		if approve {
			err = u.src.Updates.ApproveUpdate(r.Context(), name, u.opts.Clock.Now())
		} else {
			err = u.src.Updates.WithdrawUpdate(r.Context(), name)
		}
		if err != nil {
			return err
		}
		u.log.Info("update approval changed", "target", name, "approved", approve)
		http.Redirect(w, r, "/updates?done="+map[bool]string{true: "approved", false: "withdrawn"}[approve], http.StatusSeeOther)
		return nil
	}
}
