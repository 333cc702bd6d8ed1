package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// Channels keeps an organisation's notification channels: webhooks and
// mailboxes.
type Channels interface {
	CreateNotifyChannel(ctx context.Context, c fleet.NotifyChannel) (fleet.NotifyChannelID, error)
	NotifyChannels(ctx context.Context, org fleet.OrgID) ([]fleet.NotifyChannel, error)
	NotifyChannel(ctx context.Context, org fleet.OrgID, id fleet.NotifyChannelID) (fleet.NotifyChannel, error)
	DeleteNotifyChannel(ctx context.Context, org fleet.OrgID, id fleet.NotifyChannelID, now time.Time) error
}

// Subscriptions keeps users' notification preferences and finds who is
// told of an alert at a site: the channels and the users who may see it.
type Subscriptions interface {
	SetNotifyPrefs(ctx context.Context, p fleet.NotifyPrefs) error
	NotifyPrefs(ctx context.Context, org fleet.OrgID, user fleet.UserID) (fleet.NotifyPrefs, error)
	Recipients(ctx context.Context, org fleet.OrgID, site fleet.SiteID) ([]fleet.Recipient, error)
}

// DeliveryQueue is the durable queue of notifications: enqueued once per
// alert revision and recipient, claimed under a lease, each attempt
// logged, pruned when done.
type DeliveryQueue interface {
	EnqueueDeliveries(ctx context.Context, ds []fleet.Delivery) (int, error)
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]fleet.Delivery, error)
	RecordAttempt(ctx context.Context, a fleet.DeliveryAttempt, next time.Time) error
	Deliveries(ctx context.Context, org fleet.OrgID, limit int) ([]fleet.Delivery, error)
	DeliveryLog(ctx context.Context, org fleet.OrgID, limit int) ([]fleet.DeliveryAttempt, error)
	PruneDeliveries(ctx context.Context, cutoff time.Time) (int64, error)
}

// NotifyStore is what RunNotifications drives: notifications, with
// organisations and the users and members who receive them.
type NotifyStore interface {
	Channels
	Subscriptions
	DeliveryQueue
	Orgs
	Accounts
	Membership
}

// RunNotifications runs the notifications contract against stores made by
// open: channels, users' preferences, the recipients of a site, and the
// delivery queue with its leases, retries, superseded revisions and
// claims that never overlap.
func RunNotifications(t *testing.T, open func(t *testing.T) NotifyStore) {
	runTests(t, open, []storeTest[NotifyStore]{
		{"NotifyChannels", testNotifyChannels},
		{"NotifyPrefs", testNotifyPrefs},
		{"Recipients", testRecipients},
		{"Deliveries", testDeliveries},
		{"DeliveryRevisions", testDeliveryRevisions},
		{"ClaimDeliveriesUnderRace", testClaimRace},
	})
}

// testSecret is a webhook secret long enough to be valid.
var testSecret = strings.Repeat("s", 43)

// webhook returns a valid webhook channel of org.
func webhook(org fleet.OrgID, name string, created time.Time) fleet.NotifyChannel {
	return fleet.NotifyChannel{OrgID: org, Kind: fleet.ChannelWebhook, Name: name, Target: "https://hooks.example.com/" + name,
		Secret: testSecret, MinSeverity: fleet.SeverityWarning, Created: created}
}

func testNotifyChannels(t *testing.T, db NotifyStore) {
	ctx := t.Context()
	orgA, _ := tenant(t, db, "A")
	orgB, _ := tenant(t, db, "B")
	hook := webhook(orgA, "ops", T0)
	var err error
	if hook.ID, err = db.CreateNotifyChannel(ctx, hook); err != nil {
		t.Fatal(err)
	}
	mailbox := fleet.NotifyChannel{OrgID: orgA, Kind: fleet.ChannelEmail, Name: "Shift leads", Target: "shift@example.com",
		MinSeverity: fleet.SeverityError, Created: T0.Add(time.Minute)}
	if mailbox.ID, err = db.CreateNotifyChannel(ctx, mailbox); err != nil {
		t.Fatal(err)
	}
	got, err := db.NotifyChannels(ctx, orgA)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.NotifyChannel{hook, mailbox}, got); diff != "" {
		t.Errorf("NotifyChannels (-want +got):\n%s", diff)
	}
	if one, err := db.NotifyChannel(ctx, orgA, hook.ID); err != nil || one.Secret != testSecret {
		t.Errorf("NotifyChannel = %+v, %v; want the webhook with its secret", one, err)
	}
	if got, err := db.NotifyChannels(ctx, orgB); err != nil || len(got) != 0 {
		t.Errorf("NotifyChannels(B) = %v, %v; want none", got, err)
	}
	bad := func(f func(*fleet.NotifyChannel)) func() error {
		return func() error {
			c := webhook(orgA, "bad", T0)
			f(&c)
			_, err := db.CreateNotifyChannel(ctx, c)
			return err
		}
	}
	checkErrs(t, []errCase{
		{"unknown org", bad(func(c *fleet.NotifyChannel) { c.OrgID = "org_unknown" }), fleet.ErrNotFound},
		{"http url", bad(func(c *fleet.NotifyChannel) { c.Target = "http://hooks.example.com/x" }), nil},
		{"short secret", bad(func(c *fleet.NotifyChannel) { c.Secret = "x" }), nil},
		{"no name", bad(func(c *fleet.NotifyChannel) { c.Name = " " }), nil},
		{"no severity", bad(func(c *fleet.NotifyChannel) { c.MinSeverity = 0 }), nil},
		{"bad kind", bad(func(c *fleet.NotifyChannel) { c.Kind = 9 }), nil},
		{"bad address", bad(func(c *fleet.NotifyChannel) {
			c.Kind, c.Target = fleet.ChannelEmail, "Ada <ada@example.com>"
		}), nil},
		{"get other org", func() error { _, err := db.NotifyChannel(ctx, orgB, hook.ID); return err }, fleet.ErrNotFound},
		{"delete other org", func() error { return db.DeleteNotifyChannel(ctx, orgB, hook.ID, T0) }, fleet.ErrNotFound},
	})
	if err := db.DeleteNotifyChannel(ctx, orgA, hook.ID, T0); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteNotifyChannel(ctx, orgA, hook.ID, T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("second delete: err = %v, want ErrNotFound", err)
	}
	if got, err := db.NotifyChannels(ctx, orgA); err != nil || len(got) != 1 || got[0].ID != mailbox.ID {
		t.Errorf("after delete: %v, %v; want the mailbox only", got, err)
	}
}

func testNotifyPrefs(t *testing.T, db NotifyStore) {
	ctx := t.Context()
	orgA, _ := tenant(t, db, "A")
	orgB, _ := tenant(t, db, "B")
	ada, err := db.CreateUser(ctx, orgA, "ada", "h", fleet.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.NotifyPrefs(ctx, orgA, ada)
	if err != nil {
		t.Fatal(err)
	}
	def := fleet.NotifyPrefs{UserID: ada, OrgID: orgA, MinSeverity: fleet.SeverityWarning}
	if diff := cmp.Diff(def, got); diff != "" {
		t.Errorf("default prefs (-want +got):\n%s", diff)
	}
	want := fleet.NotifyPrefs{UserID: ada, OrgID: orgA, Enabled: true, Email: "ada@example.com", MinSeverity: fleet.SeverityError, Lang: "de"}
	for range 2 { // setting twice overwrites
		if err := db.SetNotifyPrefs(ctx, want); err != nil {
			t.Fatal(err)
		}
	}
	if got, err = db.NotifyPrefs(ctx, orgA, ada); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("prefs (-want +got):\n%s", diff)
	}
	off := fleet.NotifyPrefs{UserID: ada, OrgID: orgA, MinSeverity: fleet.SeverityInfo}
	if err := db.SetNotifyPrefs(ctx, off); err != nil {
		t.Fatal(err)
	}
	if got, err = db.NotifyPrefs(ctx, orgA, ada); err != nil || got != off {
		t.Errorf("prefs turned off = %+v, %v; want %+v", got, err, off)
	}
	checkErrs(t, []errCase{
		{"get other org", func() error { _, err := db.NotifyPrefs(ctx, orgB, ada); return err }, fleet.ErrNotFound},
		{"set other org", func() error {
			p := want
			p.OrgID = orgB
			return db.SetNotifyPrefs(ctx, p)
		}, fleet.ErrNotFound},
		{"enabled without address", func() error {
			p := want
			p.Email = ""
			return db.SetNotifyPrefs(ctx, p)
		}, nil},
		{"bad address", func() error {
			p := want
			p.Email = "ada@example.com\r\nBcc: eve@example.com"
			return db.SetNotifyPrefs(ctx, p)
		}, nil},
	})
}

func testRecipients(t *testing.T, db NotifyStore) {
	ctx := t.Context()
	orgA, siteA := tenant(t, db, "A")
	siteA2, err := db.CreateSite(ctx, orgA, "A second plant")
	if err != nil {
		t.Fatal(err)
	}
	orgB, _ := tenant(t, db, "B")
	hook := webhook(orgA, "ops", T0)
	if hook.ID, err = db.CreateNotifyChannel(ctx, hook); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateNotifyChannel(ctx, webhook(orgB, "b", T0)); err != nil {
		t.Fatal(err)
	}
	user := func(org fleet.OrgID, name string, sites access.SiteSet, enabled bool) fleet.UserID {
		t.Helper()
		id, err := db.CreateMember(ctx, org, name, "h", fleet.RoleViewer, sites)
		if err != nil {
			t.Fatal(err)
		}
		p := fleet.NotifyPrefs{UserID: id, OrgID: org, Enabled: enabled, Email: name + "@example.com", MinSeverity: fleet.SeverityCritical, Lang: "de"}
		if err := db.SetNotifyPrefs(ctx, p); err != nil {
			t.Fatal(err)
		}
		return id
	}
	all := user(orgA, "all", access.AllSites(), true)
	here := user(orgA, "here", access.OnlySites(siteA), true)
	there := user(orgA, "there", access.OnlySites(siteA2), true)
	user(orgA, "off", access.AllSites(), false)
	user(orgB, "other", access.AllSites(), true)
	if _, err := db.CreateUser(ctx, orgA, "noprefs", "h", fleet.RoleViewer); err != nil {
		t.Fatal(err)
	}
	mail := func(id fleet.UserID, name string) fleet.Recipient {
		return fleet.Recipient{Key: "user:" + string(id), Kind: fleet.ChannelEmail, Target: name + "@example.com",
			MinSeverity: fleet.SeverityCritical, Lang: "de", UserID: id}
	}
	ch := fleet.Recipient{Key: "channel:" + string(hook.ID), Kind: fleet.ChannelWebhook, Target: hook.Target,
		MinSeverity: fleet.SeverityWarning, ChannelID: hook.ID}
	tests := []struct {
		site fleet.SiteID
		want []fleet.Recipient
	}{
		{siteA, []fleet.Recipient{ch, mail(all, "all"), mail(here, "here")}},
		{siteA2, []fleet.Recipient{ch, mail(all, "all"), mail(there, "there")}},
	}
	for _, tt := range tests {
		t.Run(string(tt.site), func(t *testing.T) {
			got, err := db.Recipients(ctx, orgA, tt.site)
			if err != nil {
				t.Fatal(err)
			}
			// The order is by key; keys embed random IDs.
			want := sortedByKey(tt.want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Recipients (-want +got):\n%s", diff)
			}
		})
	}
}

func sortedByKey(rs []fleet.Recipient) []fleet.Recipient {
	out := append([]fleet.Recipient(nil), rs...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Key < out[i].Key {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// testAlert returns a valid alert of org at revision rev.
func testAlert(org fleet.OrgID, site fleet.SiteID, id fleet.AlertID, rev int) fleet.Alert {
	return fleet.Alert{ID: id, OrgID: org, SiteID: site, PrinterID: "printer-0001", PrinterName: "3DP 1", Rule: "offline",
		Severity: fleet.SeverityError, Title: "Printer offline", Detail: "No status for 10 minutes",
		Opened: T0, Updated: T0.Add(time.Duration(rev) * time.Minute), Revision: rev}
}

func delivery(a fleet.Alert, r fleet.Recipient, at time.Time) fleet.Delivery {
	return fleet.Delivery{OrgID: a.OrgID, Alert: a, Recipient: r, NextAt: at, Created: at}
}

func testDeliveries(t *testing.T, db NotifyStore) {
	ctx := t.Context()
	orgA, siteA := tenant(t, db, "A")
	orgB, siteB := tenant(t, db, "B")
	hook := webhook(orgA, "ops", T0)
	var err error
	if hook.ID, err = db.CreateNotifyChannel(ctx, hook); err != nil {
		t.Fatal(err)
	}
	toHook := fleet.Recipient{Key: "channel:" + string(hook.ID), Kind: fleet.ChannelWebhook, Target: hook.Target,
		MinSeverity: fleet.SeverityWarning, ChannelID: hook.ID}
	toAda := fleet.Recipient{Key: "user:usr_ada", Kind: fleet.ChannelEmail, Target: "ada@example.com", MinSeverity: fleet.SeverityInfo,
		Lang: "de", UserID: "usr_ada"}
	a1 := testAlert(orgA, siteA, "alr_1", 1)
	enqueue := func(want int, ds ...fleet.Delivery) {
		t.Helper()
		if n, err := db.EnqueueDeliveries(ctx, ds); err != nil || n != want {
			t.Fatalf("EnqueueDeliveries = %d, %v; want %d", n, err, want)
		}
	}
	enqueue(2, delivery(a1, toHook, T0), delivery(a1, toAda, T0))
	enqueue(0, delivery(a1, toHook, T0), delivery(a1, toAda, T0.Add(time.Hour))) // the same again: no-op
	// Another organisation may use the same alert ID and recipient key.
	enqueue(1, delivery(testAlert(orgB, siteB, "alr_1", 1), toAda, T0.Add(time.Hour)))

	const lease = time.Minute
	claimed, err := db.ClaimDeliveries(ctx, T0, lease, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 2 {
		t.Fatalf("claimed %d deliveries, want 2", len(claimed))
	}
	byKey := map[string]fleet.Delivery{}
	for _, d := range claimed {
		byKey[d.Recipient.Key] = d
	}
	h := byKey[toHook.Key]
	// A queued delivery keeps no minimum severity: it was checked already.
	toHook.MinSeverity, toAda.MinSeverity = 0, 0
	wantHook := fleet.Delivery{ID: h.ID, OrgID: orgA, Alert: a1, Recipient: toHook, Secret: testSecret,
		Status: fleet.DeliveryPending, Attempts: 1, NextAt: T0, Created: T0, Updated: T0}
	if diff := cmp.Diff(wantHook, h); diff != "" {
		t.Errorf("claimed webhook delivery (-want +got):\n%s", diff)
	}
	if got := byKey[toAda.Key]; got.Recipient != toAda || got.Secret != "" || got.Alert != a1 {
		t.Errorf("claimed e-mail delivery = %+v", got)
	}
	// Leased: nobody else gets them until the lease runs out.
	if again, err := db.ClaimDeliveries(ctx, T0.Add(lease-time.Nanosecond), lease, 10); err != nil || len(again) != 0 {
		t.Errorf("claim within lease = %d, %v; want none", len(again), err)
	}
	// The webhook fails and is due again in 2 minutes; the e-mail is sent.
	record := func(d fleet.Delivery, at time.Time, status fleet.DeliveryStatus, msg string, next time.Time) {
		t.Helper()
		a := fleet.DeliveryAttempt{DeliveryID: d.ID, Attempt: d.Attempts, At: at, Status: status, Error: msg}
		if err := db.RecordAttempt(ctx, a, next); err != nil {
			t.Fatal(err)
		}
	}
	record(h, T0.Add(time.Second), fleet.DeliveryPending, "500 Internal Server Error", T0.Add(2*time.Minute))
	record(byKey[toAda.Key], T0.Add(time.Second), fleet.DeliverySent, "", time.Time{})
	if got, err := db.ClaimDeliveries(ctx, T0.Add(2*time.Minute-time.Nanosecond), lease, 10); err != nil || len(got) != 0 {
		t.Errorf("claim before due = %d, %v; want none", len(got), err)
	}
	got, err := db.ClaimDeliveries(ctx, T0.Add(2*time.Minute), lease, 10)
	if err != nil || len(got) != 1 || got[0].ID != h.ID || got[0].Attempts != 2 || got[0].LastError != "500 Internal Server Error" {
		t.Fatalf("claim when due = %+v, %v; want the webhook at attempt 2", got, err)
	}
	// The lease runs out (the node died); another claims attempt 3. The
	// late result of attempt 2 is logged but moves nothing.
	third, err := db.ClaimDeliveries(ctx, T0.Add(2*time.Minute+lease), lease, 10)
	if err != nil || len(third) != 1 || third[0].Attempts != 3 {
		t.Fatalf("claim after lease = %+v, %v; want attempt 3", third, err)
	}
	record(got[0], T0.Add(3*time.Minute), fleet.DeliveryFailed, "late", time.Time{})
	record(third[0], T0.Add(3*time.Minute+time.Second), fleet.DeliverySent, "", time.Time{})

	ds, err := db.Deliveries(ctx, orgA, 10)
	if err != nil {
		t.Fatal(err)
	}
	status := map[fleet.DeliveryID]fleet.DeliveryStatus{}
	for _, d := range ds {
		status[d.ID] = d.Status
		if d.Secret != "" {
			t.Errorf("Deliveries shows the secret of %s", d.ID)
		}
	}
	if diff := cmp.Diff(map[fleet.DeliveryID]fleet.DeliveryStatus{h.ID: fleet.DeliverySent, byKey[toAda.Key].ID: fleet.DeliverySent}, status); diff != "" {
		t.Errorf("delivery states (-want +got):\n%s", diff)
	}

	log, err := db.DeliveryLog(ctx, orgA, 10)
	if err != nil {
		t.Fatal(err)
	}
	entry := func(d fleet.Delivery, r fleet.Recipient, n int, at time.Time, s fleet.DeliveryStatus, msg string) fleet.DeliveryAttempt {
		return fleet.DeliveryAttempt{DeliveryID: d.ID, AlertID: "alr_1", Revision: 1, Kind: r.Kind, Target: r.Target,
			ChannelID: r.ChannelID, UserID: r.UserID, Attempt: n, At: at, Status: s, Error: msg}
	}
	wantLog := []fleet.DeliveryAttempt{
		entry(h, toHook, 3, T0.Add(3*time.Minute+time.Second), fleet.DeliverySent, ""),
		entry(h, toHook, 2, T0.Add(3*time.Minute), fleet.DeliveryFailed, "late"),
		entry(h, toHook, 1, T0.Add(time.Second), fleet.DeliveryPending, "500 Internal Server Error"),
		entry(byKey[toAda.Key], toAda, 1, T0.Add(time.Second), fleet.DeliverySent, ""),
	}
	if h.ID > byKey[toAda.Key].ID { // equal times order by delivery ID
		wantLog[2], wantLog[3] = wantLog[3], wantLog[2]
	}
	if diff := cmp.Diff(wantLog, log); diff != "" {
		t.Errorf("DeliveryLog (-want +got):\n%s", diff)
	}
	if log, err := db.DeliveryLog(ctx, orgB, 10); err != nil || len(log) != 0 {
		t.Errorf("DeliveryLog(B) = %v, %v; want none (B's delivery was never tried)", log, err)
	}
	if ds, err := db.Deliveries(ctx, orgB, 10); err != nil || len(ds) != 1 || ds[0].OrgID != orgB {
		t.Errorf("Deliveries(B) = %v, %v; want B's one", ds, err)
	}
	checkErrs(t, []errCase{
		{"record unknown", func() error {
			return db.RecordAttempt(ctx, fleet.DeliveryAttempt{DeliveryID: "dlv_unknown", Attempt: 1, At: T0, Status: fleet.DeliverySent}, T0)
		}, fleet.ErrNotFound},
		{"record bad status", func() error {
			return db.RecordAttempt(ctx, fleet.DeliveryAttempt{DeliveryID: h.ID, Attempt: 4, At: T0, Status: fleet.DeliverySuperseded}, T0)
		}, nil},
		{"enqueue no revision", func() error {
			_, err := db.EnqueueDeliveries(ctx, []fleet.Delivery{delivery(testAlert(orgA, siteA, "alr_x", 0), toAda, T0)})
			return err
		}, nil},
		{"enqueue no kind", func() error {
			r := toAda
			r.Kind = 0
			_, err := db.EnqueueDeliveries(ctx, []fleet.Delivery{delivery(testAlert(orgA, siteA, "alr_x", 1), r, T0)})
			return err
		}, nil},
		{"claim no lease", func() error { _, err := db.ClaimDeliveries(ctx, T0, 0, 1); return err }, nil},
	})

	// Pruning keeps pending deliveries and recent ones.
	n, err := db.PruneDeliveries(ctx, T0.Add(time.Nanosecond))
	if err != nil || n != 2 {
		t.Errorf("PruneDeliveries = %d, %v; want 2", n, err)
	}
	if log, err := db.DeliveryLog(ctx, orgA, 10); err != nil || len(log) != 0 {
		t.Errorf("log after prune = %v, %v; want none", log, err)
	}
	if ds, err := db.Deliveries(ctx, orgB, 10); err != nil || len(ds) != 1 {
		t.Errorf("pending delivery of B after prune = %v, %v; want it kept", ds, err)
	}
}

func testDeliveryRevisions(t *testing.T, db NotifyStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "A")
	hook := webhook(org, "ops", T0)
	var err error
	if hook.ID, err = db.CreateNotifyChannel(ctx, hook); err != nil {
		t.Fatal(err)
	}
	r := fleet.Recipient{Key: "channel:" + string(hook.ID), Kind: fleet.ChannelWebhook, Target: hook.Target,
		MinSeverity: fleet.SeverityInfo, ChannelID: hook.ID}
	enqueue := func(rev, want int) {
		t.Helper()
		if n, err := db.EnqueueDeliveries(ctx, []fleet.Delivery{delivery(testAlert(org, site, "alr_1", rev), r, T0)}); err != nil || n != want {
			t.Fatalf("enqueue revision %d = %d, %v; want %d", rev, n, err, want)
		}
	}
	enqueue(1, 1)
	enqueue(2, 1) // supersedes revision 1, which was never sent
	enqueue(1, 0) // a late replay of revision 1 is not sent after 2
	enqueue(2, 0)
	got, err := db.ClaimDeliveries(ctx, T0, time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].Alert.Revision != 2 {
		t.Fatalf("claimed %+v, %v; want revision 2 only", got, err)
	}
	ds, err := db.Deliveries(ctx, org, 10)
	if err != nil {
		t.Fatal(err)
	}
	states := map[int]string{}
	for _, d := range ds {
		states[d.Alert.Revision] = d.Status.String() + " " + d.LastError
	}
	want := map[int]string{1: "superseded superseded by revision 2", 2: "pending "}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("states by revision (-want +got):\n%s", diff)
	}
	// Deleting the channel fails what is still pending for it.
	if err := db.DeleteNotifyChannel(ctx, org, hook.ID, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ClaimDeliveries(ctx, T0.Add(time.Hour), time.Minute, 10); err != nil || len(got) != 0 {
		t.Errorf("claim after channel deletion = %d, %v; want none", len(got), err)
	}
	ds, err = db.Deliveries(ctx, org, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Alert.Revision == 2 && (d.Status != fleet.DeliveryFailed || d.LastError != "channel deleted") {
			t.Errorf("revision 2 after channel deletion: %s %q, want failed", d.Status, d.LastError)
		}
	}
}

// testClaimRace claims from several callers at once: every delivery is
// claimed exactly once.
func testClaimRace(t *testing.T, db NotifyStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "A")
	const n = 24
	var ds []fleet.Delivery
	for i := range n {
		r := fleet.Recipient{Key: fmt.Sprintf("user:usr_%02d", i), Kind: fleet.ChannelEmail, Target: "u@example.com", MinSeverity: fleet.SeverityInfo}
		ds = append(ds, delivery(testAlert(org, site, "alr_1", 1), r, T0))
	}
	if got, err := db.EnqueueDeliveries(ctx, ds); err != nil || got != n {
		t.Fatalf("enqueue = %d, %v", got, err)
	}
	var mu sync.Mutex
	seen := map[fleet.DeliveryID]int{}
	errs := race(4, func(int) error {
		for {
			got, err := db.ClaimDeliveries(ctx, T0, time.Hour, 3)
			if err != nil || len(got) == 0 {
				return err
			}
			mu.Lock()
			for _, d := range got {
				seen[d.ID]++
			}
			mu.Unlock()
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if len(seen) != n {
		t.Errorf("%d deliveries claimed, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("delivery %s claimed %d times", id, c)
		}
	}
}
