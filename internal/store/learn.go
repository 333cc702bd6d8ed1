package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/learn"
)

// The learning loop's data (R-FEAT-8): the job outcomes it trains on, read
// across organisations, and the model versions and set proposals it keeps.

// maxLearnOutcomes bounds the jobs one training reads.
const maxLearnOutcomes = 200_000

// LearnOutcomes returns the completed jobs created in [from, to) with
// their parts, each with its organisation (for the cohort threshold only),
// printer model and build volume, oldest first, at most
// maxLearnOutcomes. Each carries its printer's printhead condition at the
// job's start, from the newest consumables snapshot at or before it
// (learn.HeadAt; unknown without one). A job whose record does not decode
// is returned without its record so the learner counts it as excluded.
func (d *DB) LearnOutcomes(ctx context.Context, from, to time.Time) ([]learn.Outcome, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT j.printer_id, j.job_id, j.org_id, p.model, p.identity, j.data
		FROM jobs j JOIN printers p ON p.id = j.printer_id
		WHERE j.created_at >= ? AND j.created_at < ? ORDER BY j.created_at, j.printer_id, j.job_id LIMIT ?`,
		nanos(from), nanos(to), maxLearnOutcomes)
	if err != nil {
		return nil, fmt.Errorf("learn outcomes: %w", err)
	}
	type key struct{ printer, job string }
	var outs []learn.Outcome
	var printers []string // of each outcome
	index := map[key]int{}
	for rows.Next() {
		var printer, job, org, model, identity, data string
		if err := rows.Scan(&printer, &job, &org, &model, &identity, &data); err != nil {
			rows.Close()
			return nil, fmt.Errorf("learn outcomes: %w", err)
		}
		o := learn.Outcome{Org: org, Model: model}
		var id fleet.Identity
		if json.Unmarshal([]byte(identity), &id) == nil {
			o.Build = learn.BuildVolume(id.Size)
		}
		if json.Unmarshal([]byte(data), &o.Job) != nil {
			o.Job = fleet.Job{}
		}
		if o.Job.Status != fleet.JobCompleted {
			continue
		}
		index[key{printer, job}] = len(outs)
		printers = append(printers, printer)
		outs = append(outs, o)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("learn outcomes: %w", err)
	}
	if len(outs) == 0 {
		return nil, nil
	}
	if err := d.learnHeads(ctx, outs, printers, from, to); err != nil {
		return nil, err
	}
	prows, err := d.db.QueryContext(ctx, `SELECT t.printer_id, t.job_id, t.data FROM parts t
		JOIN jobs j ON j.printer_id = t.printer_id AND j.job_id = t.job_id
		WHERE j.created_at >= ? AND j.created_at < ?`, nanos(from), nanos(to))
	if err != nil {
		return nil, fmt.Errorf("learn outcomes: parts: %w", err)
	}
	defer prows.Close()
	for prows.Next() {
		var printer, job, data string
		if err := prows.Scan(&printer, &job, &data); err != nil {
			return nil, fmt.Errorf("learn outcomes: parts: %w", err)
		}
		i, ok := index[key{printer, job}]
		if !ok {
			continue
		}
		var p fleet.Part
		if json.Unmarshal([]byte(data), &p) != nil {
			continue // a part that does not decode is missing: the job is excluded for it
		}
		outs[i].Parts = append(outs[i].Parts, p)
	}
	if err := prows.Err(); err != nil {
		return nil, fmt.Errorf("learn outcomes: parts: %w", err)
	}
	return outs, nil
}

// learnHeads gives each outcome (of printers[i]) its printer's printhead
// condition at the job's start. Only the condition of each snapshot is
// kept; a snapshot that does not decode is skipped.
func (d *DB) learnHeads(ctx context.Context, outs []learn.Outcome, printers []string, from, to time.Time) error {
	want := map[string]bool{}
	for _, p := range printers {
		want[p] = true
	}
	rows, err := d.db.QueryContext(ctx, `SELECT printer_id, data FROM consumables_history
		WHERE time >= ? AND time < ? ORDER BY printer_id, time`, nanos(from.Add(-learn.MaxHeadAge)), nanos(to))
	if err != nil {
		return fmt.Errorf("learn outcomes: consumables: %w", err)
	}
	defer rows.Close()
	states := map[string][]learn.HeadState{}
	for rows.Next() {
		var printer, data string
		if err := rows.Scan(&printer, &data); err != nil {
			return fmt.Errorf("learn outcomes: consumables: %w", err)
		}
		if !want[printer] {
			continue
		}
		var c fleet.Consumables
		if json.Unmarshal([]byte(data), &c) != nil {
			continue
		}
		if s, ok := learn.HeadStateOf(c); ok {
			states[printer] = append(states[printer], s)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("learn outcomes: consumables: %w", err)
	}
	for i := range outs {
		outs[i].Heads = learn.HeadAt(states[printers[i]], learn.JobStart(outs[i].Job))
	}
	return nil
}

// SaveLearnModel stores a model version. A version stored before is
// fleet.ErrConflict.
func (d *DB) SaveLearnModel(ctx context.Context, m learn.StoredModel) error {
	data, err := json.Marshal(m.Model)
	if err != nil {
		return fmt.Errorf("save model %d: %w", m.Model.Version, err)
	}
	if m.Model.Version <= 0 {
		return fmt.Errorf("save model: version %d: %w", m.Model.Version, fleet.ErrRejected)
	}
	return d.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM learn_models WHERE version = ?`, m.Model.Version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("save model %d: %w", m.Model.Version, fleet.ErrConflict)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO learn_models (version, trained_at, promoted, reason, data) VALUES (?, ?, ?, ?, ?)`,
			m.Model.Version, nanos(m.Model.TrainedAt), b2i(m.Promoted), m.Reason, string(data))
		return err
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// LearnModels returns the newest limit model versions, newest first.
func (d *DB) LearnModels(ctx context.Context, limit int) ([]learn.StoredModel, error) {
	return d.learnModels(ctx, `SELECT promoted, reason, data FROM learn_models ORDER BY version DESC LIMIT ?`, max(limit, 1))
}

// InServiceModel returns the newest promoted model version;
// fleet.ErrNotFound if none was promoted.
func (d *DB) InServiceModel(ctx context.Context) (learn.Model, error) {
	ms, err := d.learnModels(ctx, `SELECT promoted, reason, data FROM learn_models WHERE promoted = 1 ORDER BY version DESC LIMIT ?`, 1)
	if err != nil {
		return learn.Model{}, err
	}
	if len(ms) == 0 {
		return learn.Model{}, fmt.Errorf("model in service: %w", fleet.ErrNotFound)
	}
	return ms[0].Model, nil
}

func (d *DB) learnModels(ctx context.Context, q string, args ...any) ([]learn.StoredModel, error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	defer rows.Close()
	var out []learn.StoredModel
	for rows.Next() {
		var s learn.StoredModel
		var promoted int
		var data string
		if err := rows.Scan(&promoted, &s.Reason, &data); err != nil {
			return nil, fmt.Errorf("models: %w", err)
		}
		if err := json.Unmarshal([]byte(data), &s.Model); err != nil {
			return nil, fmt.Errorf("models: %w", err)
		}
		s.Promoted = promoted != 0
		out = append(out, s)
	}
	return out, rows.Err()
}

// SaveLearnProposal stores a set proposal, approved by no organisation.
// Its model version must be stored (else fleet.ErrNotFound); an ID stored
// before is fleet.ErrConflict.
func (d *DB) SaveLearnProposal(ctx context.Context, p learn.SetProposal) error {
	p.State, p.ApprovedBy, p.ApproverID, p.ApprovedAt = learn.ProposalOpen, "", "", time.Time{}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("save proposal: %w: %w", fleet.ErrRejected, err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("save proposal %s: %w", p.ID, err)
	}
	return d.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM learn_models WHERE version = ?`, p.ModelVersion).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("save proposal %s: model %d: %w", p.ID, p.ModelVersion, fleet.ErrNotFound)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM learn_proposals WHERE id = ?`, p.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("save proposal %s: %w", p.ID, fleet.ErrConflict)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO learn_proposals (id, model_version, printer_model, created, data)
			VALUES (?, ?, ?, ?, ?)`, p.ID, p.ModelVersion, p.PrinterModel, nanos(p.Created), string(data))
		return err
	})
}

// The proposals are the whole fleet's; an approval is one organisation's.
// A proposal is read with the approval of the reader's organisation only:
// whether another organisation approved it, and who of it, is that
// organisation's business.
const proposalColumns = `COALESCE(a.approved_by, ''), COALESCE(a.approver, ''), COALESCE(a.approved_at, 0), p.data
	FROM learn_proposals p LEFT JOIN learn_approvals a ON a.proposal_id = p.id AND a.org_id = ?`

// LearnProposals returns the newest limit set proposals, newest first,
// each approved or not by org.
func (d *DB) LearnProposals(ctx context.Context, org fleet.OrgID, limit int) ([]learn.SetProposal, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+proposalColumns+` ORDER BY p.created DESC, p.id LIMIT ?`, org, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("proposals: %w", err)
	}
	defer rows.Close()
	var out []learn.SetProposal
	for rows.Next() {
		p, err := scanProposal(rows)
		if err != nil {
			return nil, fmt.Errorf("proposals: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// LearnProposal returns one set proposal, approved or not by org;
// fleet.ErrNotFound if unknown.
func (d *DB) LearnProposal(ctx context.Context, org fleet.OrgID, id string) (learn.SetProposal, error) {
	p, err := scanProposal(d.db.QueryRowContext(ctx, `SELECT `+proposalColumns+` WHERE p.id = ?`, org, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("proposal %s: %w", id, fleet.ErrNotFound)
	}
	return p, err
}

func scanProposal(sc interface{ Scan(...any) error }) (learn.SetProposal, error) {
	var p learn.SetProposal
	var by, name, data string
	var at int64
	if err := sc.Scan(&by, &name, &at, &data); err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		return p, err
	}
	p.State, p.ApproverID, p.ApprovedBy, p.ApprovedAt = learn.ProposalOpen, "", "", time.Time{}
	if by != "" {
		p.State, p.ApproverID, p.ApprovedBy, p.ApprovedAt = learn.ProposalApproved, fleet.UserID(by), name, fromNanos(at)
	}
	return p, nil
}

// ApproveLearnProposal records that user approved a proposal for org: the
// organisation adopts the set. An unknown proposal is fleet.ErrNotFound,
// one org approved before fleet.ErrConflict; another organisation's
// approval of the same proposal changes nothing.
func (d *DB) ApproveLearnProposal(ctx context.Context, org fleet.OrgID, id string, user fleet.User, at time.Time) (learn.SetProposal, error) {
	if org == "" || user.ID == "" || user.Name == "" {
		return learn.SetProposal{}, fmt.Errorf("approve proposal %s: no organisation or approver: %w", id, fleet.ErrRejected)
	}
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM orgs WHERE id = ?`, org).Scan(&n); err != nil {
		return learn.SetProposal{}, fmt.Errorf("approve proposal %s: %w", id, err)
	} else if n == 0 {
		return learn.SetProposal{}, fmt.Errorf("approve proposal %s: organisation %s: %w", id, org, fleet.ErrNotFound)
	}
	res, err := d.db.ExecContext(ctx, `INSERT INTO learn_approvals (org_id, proposal_id, approved_by, approver, approved_at)
		SELECT ?, id, ?, ?, ? FROM learn_proposals WHERE id = ?
		ON CONFLICT (org_id, proposal_id) DO NOTHING`, org, user.ID, user.Name, nanos(at), id)
	if err != nil {
		return learn.SetProposal{}, fmt.Errorf("approve proposal %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return learn.SetProposal{}, fmt.Errorf("approve proposal %s: %w", id, err)
	} else if n == 0 {
		p, err := d.LearnProposal(ctx, org, id)
		if err != nil {
			return learn.SetProposal{}, fmt.Errorf("approve: %w", err)
		}
		return p, fmt.Errorf("approve proposal %s: approved by %s before: %w", id, p.ApprovedBy, fleet.ErrConflict)
	}
	return d.LearnProposal(ctx, org, id)
}
