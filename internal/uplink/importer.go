package uplink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// BundleStore keeps what the cloud imported from air-gapped bundles.
type BundleStore interface {
	// LatestBundleImport returns the newest import of gw's bundles, or
	// fleet.ErrNotFound when there is none.
	LatestBundleImport(ctx context.Context, gw fleet.GatewayID) (fleet.BundleImport, error)
	// SaveBundleImport records an import: the newest of its gateway.
	SaveBundleImport(ctx context.Context, imp fleet.BundleImport) error
}

// ImporterOptions tunes an Importer. The zero value works.
type ImporterOptions struct {
	// Handler tunes the checks every batch goes through, as for uploads
	// (its rate limits do not apply: an administrator imports a bundle).
	Handler HandlerOptions
	// MaxBundleBytes bounds a bundle's plaintext; 0 → 256 MiB.
	MaxBundleBytes int64
}

// Importer is the cloud's side of air-gapped bundles: it imports a
// bundle's records through the checks and the publishing of uploads, and
// issues the acknowledgement files the sites trim their outboxes by.
type Importer struct {
	h       *handler
	key     CloudKey
	bundles BundleStore
	max     int64
}

// NewImporter returns an importer that decrypts bundles with key, checks
// their signatures against gws, their printers' sites with printers,
// publishes their records to pub and records each import in bundles.
func NewImporter(gws Gateways, printers Printers, pub Publisher, bundles BundleStore, key CloudKey, opts ImporterOptions) *Importer {
	if opts.MaxBundleBytes <= 0 {
		opts.MaxBundleBytes = 256 << 20
	}
	return &Importer{h: newHandler(gws, printers, pub, opts.Handler), key: key, bundles: bundles, max: opts.MaxBundleBytes}
}

// PublicKey is what the cloud's administrators hand to air-gapped sites.
func (im *Importer) PublicKey() CloudPublicKey { return im.key.Public() }

// BundleResult is what an import did.
type BundleResult struct {
	fleet.BundleImport
	Batches int `json:"batches"`
	// AlreadyImported: the cloud imported this bundle before; nothing
	// changed.
	AlreadyImported bool `json:"already_imported"`
}

// Import reads a bundle uploaded by an administrator of org and imports
// it. A bundle that is not for this cloud, altered, truncated, of another
// organisation's site, of an unknown or revoked gateway, older than one
// imported already, or holding a batch an upload would be refused for, is
// refused with a *RefusedError and nothing of it is imported. Records the
// cloud refuses for their content (a printer of another site) are listed
// in the result, and in the acknowledgement, and the others imported.
// Importing the same bundle again changes nothing.
func (im *Importer) Import(ctx context.Context, org fleet.OrgID, r io.Reader) (BundleResult, error) {
	plain, err := decryptBundle(r, im.key.Identity, im.max)
	if err != nil {
		return BundleResult{}, err
	}
	m, batches, raw, sig, err := DecodeBundle(plain)
	if err != nil {
		return BundleResult{}, err
	}
	gw, err := im.gateway(ctx, org, m.GatewayID)
	if err != nil {
		return BundleResult{}, err
	}
	if err := verifyManifest(gw.PublicKey, raw, sig, m, batches); err != nil {
		return BundleResult{}, err
	}
	now := im.h.opts.Clock.Now()
	created := time.Unix(m.Created, 0).UTC()
	if d := created.Sub(now); d > im.h.opts.Skew {
		return BundleResult{}, refused("the bundle was made %s ahead of the cloud's time: check the Command Center's clock", d.Truncate(time.Second))
	}
	latest, err := im.bundles.LatestBundleImport(ctx, gw.ID)
	switch {
	case errors.Is(err, fleet.ErrNotFound):
	case err != nil:
		return BundleResult{}, fmt.Errorf("import bundle: %w", err)
	case m.Serial < latest.Serial:
		return BundleResult{}, refused("bundle %d of gateway %s is older than bundle %d, imported on %s: a replayed bundle is not imported again",
			m.Serial, gw.ID, latest.Serial, latest.Imported.UTC().Format(time.RFC3339))
	case m.Serial == latest.Serial:
		return BundleResult{BundleImport: latest, Batches: len(batches), AlreadyImported: true}, nil
	}
	// Everything is checked before anything is published: a bundle with
	// one bad batch imports nothing.
	var refusedRecs []fleet.RefusedRecord
	for i, b := range batches {
		recs, _, _, err := im.decode(ctx, gw, b, now)
		if err != nil {
			return BundleResult{}, batchRefused(i, err)
		}
		kept, out, err := im.sites(ctx, gw, recs)
		if err != nil {
			return BundleResult{}, batchRefused(i, err)
		}
		refusedRecs = append(refusedRecs, out...)
		if len(kept) > 0 {
			if _, err := im.h.envelope(gw, nil, kept, false); err != nil {
				return BundleResult{}, batchRefused(i, err)
			}
		}
	}
	out := make(map[uint64]bool, len(refusedRecs))
	for _, r := range refusedRecs {
		out[r.Seq] = true
	}
	// Published batch by batch, decoded again, so that the cloud holds
	// one batch decoded at a time whatever the bundle's size.
	var held []uint64
	records := 0
	for i, b := range batches {
		recs, raw, canonical, err := im.decode(ctx, gw, b, now)
		if err != nil {
			return BundleResult{}, batchRefused(i, err)
		}
		n := len(recs)
		kept := slices.DeleteFunc(recs, func(r fleet.Record) bool { return out[r.Seq] })
		if len(kept) == 0 {
			continue
		}
		if len(kept) < n {
			raw, canonical = nil, false // re-encoded from the records kept
		}
		msg, err := im.h.envelope(gw, raw, kept, canonical)
		if err != nil {
			return BundleResult{}, batchRefused(i, err)
		}
		if err := im.h.pub.Publish(ctx, msg.id, msg.data); err != nil {
			// Some batches may be durable already: importing the bundle
			// again publishes them once more, and the store keeps
			// each record once.
			return BundleResult{}, fmt.Errorf("import bundle %d of gateway %s: publish batch %s: %w", m.Serial, gw.ID, msg.id, err)
		}
		for _, r := range kept {
			held = append(held, r.Seq)
		}
		records += len(kept)
	}
	imp := fleet.BundleImport{GatewayID: gw.ID, OrgID: gw.OrgID, SiteID: gw.SiteID, Serial: m.Serial, Created: created,
		Imported: now, Records: records, Held: fleet.Ranges(held), Refused: refusedRecs}
	if err := im.bundles.SaveBundleImport(ctx, imp); err != nil {
		return BundleResult{}, fmt.Errorf("import bundle %d of gateway %s: %w", m.Serial, gw.ID, err)
	}
	im.h.log.InfoContext(ctx, "air-gapped bundle imported", "gateway", gw.ID, "serial", m.Serial, "records", records, "refused", len(refusedRecs))
	return BundleResult{BundleImport: imp, Batches: len(batches)}, nil
}

// gateway returns the enrolled gateway id of org.
func (im *Importer) gateway(ctx context.Context, org fleet.OrgID, id fleet.GatewayID) (fleet.Gateway, error) {
	gw, err := im.h.gws.Gateway(ctx, id)
	switch {
	case errors.Is(err, fleet.ErrNotFound):
		return fleet.Gateway{}, refused("gateway %s is not enrolled with this cloud: a foreign bundle", id)
	case errors.Is(err, fleet.ErrRevoked):
		return fleet.Gateway{}, refused("gateway %s is revoked", id)
	case err != nil:
		return fleet.Gateway{}, fmt.Errorf("look up gateway %s: %w", id, err)
	case gw.OrgID != org:
		// Not told apart from an unknown gateway: one organisation
		// learns nothing of another's.
		return fleet.Gateway{}, refused("gateway %s is not enrolled with this cloud: a foreign bundle", id)
	case gw.Revoked:
		return fleet.Gateway{}, refused("gateway %s is revoked", id)
	}
	return gw, nil
}

// decode decompresses and decodes a batch, checking it as an upload's.
// raw is the decompressed batch, and canonical says the envelope may
// splice it (see encodeEnvelope).
func (im *Importer) decode(ctx context.Context, gw fleet.Gateway, b SignedBatch, now time.Time) (recs []fleet.Record, raw []byte, canonical bool, _ error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, false, err
	}
	raw, _, err := im.h.decompress(b.Encoding, b.Body)
	if err != nil {
		return nil, nil, false, err
	}
	recs, canonical, err = im.h.decodeBatch(raw, now)
	return recs, raw, canonical, err
}

// sites splits recs into those of gw's site's printers and those refused
// for belonging to another site.
func (im *Importer) sites(ctx context.Context, gw fleet.Gateway, recs []fleet.Record) (kept []fleet.Record, out []fleet.RefusedRecord, _ error) {
	places, err := im.h.printers.PrinterPlaces(ctx, gw.OrgID, printerIDs(recs))
	if err != nil {
		return nil, nil, fmt.Errorf("check the sites of the bundle's printers: %w", err)
	}
	for _, r := range recs {
		if site := places[r.PrinterID].SiteID; site != "" && site != gw.SiteID {
			out = append(out, fleet.RefusedRecord{Seq: r.Seq, Reason: fleet.OtherSiteError(r.PrinterID, site).Error()})
			continue
		}
		kept = append(kept, r)
	}
	return kept, out, nil
}

func printerIDs(recs []fleet.Record) []fleet.PrinterID {
	ids := make([]fleet.PrinterID, len(recs))
	for i, r := range recs {
		ids[i] = r.PrinterID
	}
	return ids
}

// batchRefused turns the refusal of batch i as an upload into the
// refusal of its bundle; other errors pass.
func batchRefused(i int, err error) error {
	if he, ok := errors.AsType[*httpError](err); ok {
		return refused("batch %d of the bundle is refused: %s", i, he.msg)
	}
	return err
}

// AckFile returns the signed acknowledgement of the newest bundle of
// gateway gw of org that the cloud imported; a *RefusedError when there
// is none or the gateway is not org's.
func (im *Importer) AckFile(ctx context.Context, org fleet.OrgID, gw fleet.GatewayID) ([]byte, error) {
	g, err := im.gateway(ctx, org, gw)
	if err != nil {
		return nil, err
	}
	imp, err := im.bundles.LatestBundleImport(ctx, g.ID)
	switch {
	case errors.Is(err, fleet.ErrNotFound):
		return nil, refused("no bundle of gateway %s was imported yet", gw)
	case err != nil:
		return nil, fmt.Errorf("acknowledgement of gateway %s: %w", gw, err)
	}
	return SignAck(im.key, imp, im.h.opts.Clock.Now())
}
