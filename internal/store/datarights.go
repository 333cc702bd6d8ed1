package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The organisation's data (R-PRIV-5): what an export holds and what a
// deletion removes. orgTables names every table of the store and how its
// rows belong to an organisation; a test holds it against the schema, so
// a new table must be placed here — exported, or left out for a reason
// written beside it — before the tests pass.
//
// The conditions take the organisation's ID as their one argument (?),
// possibly more than once (args).
const (
	ofOrgPrinters = `printer_id IN (SELECT id FROM printers WHERE org_id = ?)`
	ofOrgUsers    = `user_id IN (SELECT id FROM users WHERE org_id = ?)`
)

type orgTable struct {
	name  string
	where string   // the organisation's rows; "" for a table of no organisation
	omit  []string // columns left out of the export: secrets, even hashed
	// skip, when set, leaves the table out of the export for the reason
	// given; a deletion removes its rows all the same.
	skip string
}

// orgTables lists the tables parents first: a deletion goes through it
// backwards, so that no row is left pointing at a removed one.
var orgTables = []orgTable{
	{name: "orgs", where: `id = ?`},
	{name: "sites", where: `org_id = ?`},
	// Grants are the customer's and the provider's both: each exports
	// them, and a deletion of either removes them.
	{name: "grants", where: `customer_id = ? OR provider_id = ?`},
	{name: "grant_sites", where: `grant_id IN (SELECT id FROM grants WHERE customer_id = ? OR provider_id = ?)`},
	{name: "users", where: `org_id = ?`, omit: []string{"password_hash"}},
	{name: "user_sites", where: ofOrgUsers},
	{name: "user_prefs", where: ofOrgUsers},
	{name: "sessions", where: ofOrgUsers, skip: "login sessions: hashes of secrets, hours long"},
	{name: "login_challenges", where: ofOrgUsers, skip: "pending second login steps: hashes of secrets, minutes long"},
	{name: "totp", where: ofOrgUsers, skip: "two-factor secrets"},
	{name: "recovery_codes", where: ofOrgUsers, skip: "hashes of two-factor recovery codes"},
	{name: "login_failures", where: `name_key IN (SELECT LOWER(name) FROM users WHERE org_id = ?)`,
		skip: "the login throttle's counters, kept for minutes, by the name typed"},
	{name: "api_tokens", where: `org_id = ?`, omit: []string{"token_hash"}},
	{name: "api_token_sites", where: `token_id IN (SELECT id FROM api_tokens WHERE org_id = ?)`},
	{name: "gateways", where: `org_id = ?`},
	{name: "enrolment_tokens", where: `site_id IN (SELECT id FROM sites WHERE org_id = ?)`, omit: []string{"token_hash"}},
	{name: "bundle_imports", where: `org_id = ?`},
	{name: "received", where: `gateway_id IN (SELECT id FROM gateways WHERE org_id = ?)`,
		skip: "the uplink's bookkeeping of record numbers received, no data of its own"},
	{name: "printers", where: `org_id = ?`},
	{name: "printer_status", where: ofOrgPrinters},
	{name: "events", where: ofOrgPrinters},
	{name: "gaps", where: `org_id = ?`},
	{name: "jobs", where: `org_id = ?`},
	{name: "parts", where: ofOrgPrinters},
	{name: "layers", where: ofOrgPrinters},
	{name: "logs", where: ofOrgPrinters},
	{name: "counters_latest", where: ofOrgPrinters},
	{name: "counters_history", where: ofOrgPrinters},
	{name: "consumables_latest", where: ofOrgPrinters},
	{name: "consumables_history", where: ofOrgPrinters},
	{name: "diagnostics", where: `org_id = ?`},
	{name: "diagnostic_chunks", where: `diagnostic_id IN (SELECT id FROM diagnostics WHERE org_id = ?)`},
	{name: "kpi_daily", where: `org_id = ?`},
	{name: "kpi_site_daily", where: `org_id = ?`},
	// The benchmark's cohorts are computed at each request from these
	// monthly sums of every other organisation: a deleted organisation's
	// go with it, and no anonymous remainder is kept, since in a cohort
	// of a handful a remainder's model and months would point back to it.
	{name: "kpi_org_month", where: `org_id = ?`},
	{name: "alert_rules", where: `org_id = ?`},
	{name: "alert_mutes", where: `org_id = ?`},
	{name: "alerts", where: `org_id = ?`},
	{name: "notify_channels", where: `org_id = ?`, omit: []string{"secret"}},
	{name: "notify_prefs", where: ofOrgUsers},
	{name: "notify_deliveries", where: `org_id = ?`},
	{name: "notify_attempts", where: `delivery_id IN (SELECT id FROM notify_deliveries WHERE org_id = ?)`},
	// The learning loop's model versions and proposals are the whole
	// fleet's, of anonymous cohorts; an organisation's approvals are its own.
	{name: "learn_models"},
	{name: "learn_proposals"},
	{name: "learn_approvals", where: `org_id = ?`},
	{name: "audit_heads", where: `org_id = ?`, skip: "the head of the audit chain, which the audit_log part holds"},
	{name: "audit_log", where: `org_id = ?`},
	{name: "store_migrations"}, // the schema's version: nobody's data
}

// args repeats org for each ? of the condition.
func (t orgTable) args(org fleet.OrgID) []any {
	out := make([]any, strings.Count(t.where, "?"))
	for i := range out {
		out[i] = org
	}
	return out
}

// ExportTables lists the tables an export holds, in its order.
func ExportTables() []string {
	var out []string
	for _, t := range orgTables {
		if t.where != "" && t.skip == "" {
			out = append(out, t.name)
		}
	}
	return out
}

// ExportCounts counts the rows an export of org holds, by table: what a
// progress bar measures against.
func (d *DB) ExportCounts(ctx context.Context, org fleet.OrgID) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range orgTables {
		if t.where == "" || t.skip != "" {
			continue
		}
		var n int64
		if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.name+` WHERE `+t.where, t.args(org)...).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s of %s: %w", t.name, org, err)
		}
		out[t.name] = n
	}
	return out, nil
}

// ExportOrg streams all of org's data: part is called with each table of
// ExportTables in turn, then row with each of its rows, column by column
// name. Values are int64, float64, bool, string, time.Time or nil; the
// secret columns are left out. The reads run in one snapshot, so the
// parts agree with each other.
func (d *DB) ExportOrg(ctx context.Context, org fleet.OrgID, part func(table string) error, row func(map[string]any) error) error {
	err := d.snapshot(ctx, func(tx *txn) error {
		for _, t := range orgTables {
			if t.where == "" || t.skip != "" {
				continue
			}
			if err := part(t.name); err != nil {
				return err
			}
			if err := exportTable(ctx, tx, t, org, row); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("export %s: %w", org, err)
	}
	return nil
}

func exportTable(ctx context.Context, tx *txn, t orgTable, org fleet.OrgID, row func(map[string]any) error) error {
	rows, err := tx.QueryContext(ctx, `SELECT * FROM `+t.name+` WHERE `+t.where, t.args(org)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		m := make(map[string]any, len(cols))
		for i, c := range cols {
			if !omitted(t, c) {
				m[c] = plain(vals[i])
			}
		}
		if err := row(m); err != nil {
			return err
		}
	}
	return rows.Err()
}

func omitted(t orgTable, col string) bool {
	for _, o := range t.omit {
		if o == col {
			return true
		}
	}
	return false
}

// plain is a scanned value as an export shows it: text as text.
func plain(v any) any {
	if b, ok := v.([]byte); ok {
		if utf8.Valid(b) {
			return string(b)
		}
		return hex.EncodeToString(b)
	}
	return v
}

// DeleteOrg removes org and every row of it, in one transaction, and
// records the deletion in the operator's audit log, which outlives it:
// by the SHA-256 of the organisation's and the actor's IDs, so that the
// entry names neither, yet one who knows them can find it. e is the
// deletion's event (time, actor, detail); its organisation fields are
// set here. An unknown organisation is fleet.ErrNotFound.
func (d *DB) DeleteOrg(ctx context.Context, org fleet.OrgID, e audit.Event) (map[string]int64, error) {
	removed := map[string]int64{}
	err := d.tx(ctx, func(tx *txn) error {
		if err := orgExists(ctx, tx, org); err != nil {
			return err
		}
		for i := len(orgTables) - 1; i >= 0; i-- {
			t := orgTables[i]
			if t.where == "" {
				continue
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM `+t.name+` WHERE `+t.where, t.args(org)...)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if n, err := res.RowsAffected(); err == nil && n > 0 {
				removed[t.name] = n
			}
		}
		e.Org, e.ActorOrg = audit.SystemOrg, ""
		e.Action = "org.delete"
		e.Target = "org-sha256:" + sha256Hex(string(org))
		if e.Actor != "" {
			e.Name = "user-sha256:" + sha256Hex(string(e.Actor))
			e.Actor = ""
		}
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		return recordAudit(ctx, tx, e)
	})
	if err != nil {
		return nil, fmt.Errorf("delete %s: %w", org, err)
	}
	d.places.forget(org)
	return removed, nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
