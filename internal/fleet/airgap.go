package fleet

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// SeqRange is the gateway sequence numbers First to Last, both included.
type SeqRange struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// RefusedRecord is a record the cloud refused for its content, and why.
type RefusedRecord struct {
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

// BundleImport is what the cloud imported from one air-gapped bundle of a
// gateway (R-PEER-7): the bundle's serial number, the records it holds
// (Held, every sequence number published durably) and those refused for
// their content. The acknowledgement file the cloud hands back to the site
// is made of the latest import of its gateway.
type BundleImport struct {
	GatewayID GatewayID       `json:"gateway_id"`
	OrgID     OrgID           `json:"org_id"`
	SiteID    SiteID          `json:"site_id"`
	Serial    uint64          `json:"serial"`
	Created   time.Time       `json:"created"`  // when the site exported it
	Imported  time.Time       `json:"imported"` // when the cloud imported it
	Records   int             `json:"records"`  // records published, duplicates included
	Held      []SeqRange      `json:"held"`
	Refused   []RefusedRecord `json:"refused,omitempty"`
}

// Validate checks the import's identity and that its ranges are ordered
// and disjoint.
func (b BundleImport) Validate() error {
	if b.GatewayID == "" || b.OrgID == "" || b.SiteID == "" {
		return errors.New("bundle import: gateway, org and site are required")
	}
	if b.Serial == 0 {
		return errors.New("bundle import: serial must be above 0")
	}
	for i, r := range b.Held {
		if r.First == 0 || r.Last < r.First || i > 0 && r.First <= b.Held[i-1].Last {
			return fmt.Errorf("bundle import: range %d (%d–%d) is empty, out of order or overlapping", i, r.First, r.Last)
		}
	}
	return nil
}

// Ranges returns seqs, in increasing order and without duplicates, as the
// fewest ranges.
func Ranges(seqs []uint64) []SeqRange {
	s := slices.Clone(seqs)
	slices.Sort(s)
	s = slices.Compact(s)
	var out []SeqRange
	for _, q := range s {
		if n := len(out); n > 0 && out[n-1].Last+1 == q {
			out[n-1].Last = q
			continue
		}
		out = append(out, SeqRange{First: q, Last: q})
	}
	return out
}

// InRanges reports whether seq lies in one of rs (ordered, disjoint).
func InRanges(rs []SeqRange, seq uint64) bool {
	_, found := slices.BinarySearchFunc(rs, seq, func(r SeqRange, q uint64) int {
		switch {
		case r.Last < q:
			return -1
		case r.First > q:
			return 1
		}
		return 0
	})
	return found
}
