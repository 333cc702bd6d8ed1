package audit

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The chain. Each organisation's log is a sequence of entries numbered
// 1, 2, 3, … without gaps. An entry carries the hash of the entry before
// it (Genesis for the first) and its own hash: SHA-256 over the canonical
// encoding of its fields and that previous hash. The store keeps, besides
// the entries, the head of each chain (its last sequence number and hash).
//
// What Verify detects, from the database alone:
//   - a field of an entry changed: its hash no longer matches (Altered);
//   - an entry removed from the middle: a gap in the numbers (Removed),
//     and the next entry's link broken;
//   - an entry inserted in the middle, or an entry rewritten with a fresh
//     hash: the next entry's link is broken (Broken);
//   - entries removed from the end, or a forged entry appended: the chain
//     no longer ends at the stored head (Head).
//
// What it cannot detect from the database alone: someone who may write
// the database can rewrite a chain from some entry on, recompute every
// hash and move the stored head along. Against that, anchor the heads
// outside the database: Heads that an earlier verification reported (and
// that were kept elsewhere) must still be entries of the chains, with the
// same hashes (Anchor). Entries appended after the last anchor are
// protected only by the stored head.

// Genesis is the previous hash of every chain's first entry.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// SystemOrg is the organisation of the operator's own log: entries that
// must outlive an organisation (its deletion) and failed logins of names
// no organisation knows.
const SystemOrg fleet.OrgID = ""

// Entry is an event as the log keeps it: numbered and chained.
type Entry struct {
	Event
	Seq  int64
	Prev string // hex SHA-256 of the previous entry, Genesis for the first
	Hash string // hex SHA-256 of this entry's canonical encoding
}

// Head is the last entry of one organisation's chain: what an anchor
// keeps.
type Head struct {
	Org  fleet.OrgID
	Seq  int64
	Hash string
}

// Chain returns the entry that appends e to a chain whose head is h (the
// zero Head, or one with Seq 0, for an empty chain). e's time is kept to
// the nanosecond the store keeps.
func Chain(h Head, e Event) Entry {
	prev := h.Hash
	if h.Seq == 0 {
		prev = Genesis
	}
	x := Entry{Event: e, Seq: h.Seq + 1, Prev: prev}
	x.Time = time.Unix(0, e.Time.UnixNano()).UTC()
	x.Hash = x.ComputeHash()
	return x
}

// ComputeHash is the hash the entry's fields and previous hash give.
func (x Entry) ComputeHash() string {
	sum := sha256.Sum256(x.Canonical())
	return hex.EncodeToString(sum[:])
}

// Canonical is the entry's canonical encoding: a version tag, then each
// field, in a fixed order, as its length (uvarint) and bytes. No two
// different entries encode alike, whatever bytes the fields hold.
func (x Entry) Canonical() []byte {
	fields := []string{
		string(x.Org), strconv.FormatInt(x.Seq, 10), strconv.FormatInt(x.Time.UnixNano(), 10),
		string(x.ActorOrg), string(x.Actor), x.Name, x.Action, x.Target, x.Grant, x.Detail, x.Prev,
	}
	b := []byte("fusionfleet-audit-1\n")
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// ProblemKind says how a chain was tampered with.
type ProblemKind uint8

// The kinds of tampering Verify reports.
const (
	Altered        ProblemKind = iota + 1 // an entry's fields do not give its hash
	Removed                               // entries are missing before this sequence number
	Broken                                // the entry does not link to the one before: inserted or rewritten
	HeadMismatch                          // the chain does not end at its stored head: cut or extended
	AnchorMismatch                        // an anchored head is no longer in the chain
)

func (k ProblemKind) String() string {
	switch k {
	case Altered:
		return "altered"
	case Removed:
		return "removed"
	case Broken:
		return "broken link"
	case HeadMismatch:
		return "head mismatch"
	case AnchorMismatch:
		return "anchor mismatch"
	}
	return fmt.Sprintf("ProblemKind(%d)", uint8(k))
}

// Problem is one finding of Verify: where a chain was tampered with.
type Problem struct {
	Org    fleet.OrgID
	Seq    int64 // the position: the entry, or the first missing one
	Kind   ProblemKind
	Detail string
}

func (p Problem) String() string {
	org := string(p.Org)
	if p.Org == SystemOrg {
		org = "(system)"
	}
	return fmt.Sprintf("org %s, entry %d: %s: %s", org, p.Seq, p.Kind, p.Detail)
}

// Verifier checks one organisation's chain entry by entry, in sequence
// order, without holding it: logs are long.
type Verifier struct {
	org      fleet.OrgID
	last     Head
	problems []Problem
	anchors  []Head
	hashes   map[int64]string // of the anchored sequence numbers, once seen
}

// NewVerifier starts checking org's chain. The anchors are heads kept
// from earlier verifications; those of other organisations are ignored.
func NewVerifier(org fleet.OrgID, anchors []Head) *Verifier {
	v := &Verifier{org: org, last: Head{Org: org}, hashes: map[int64]string{}}
	for _, a := range anchors {
		if a.Org == org {
			v.hashes[a.Seq] = ""
		}
	}
	v.anchors = anchors
	return v
}

// Add checks the next entry of the chain.
func (v *Verifier) Add(x Entry) {
	add := func(kind ProblemKind, detail string, args ...any) {
		v.problems = append(v.problems, Problem{Org: v.org, Seq: x.Seq, Kind: kind, Detail: fmt.Sprintf(detail, args...)})
	}
	switch {
	case x.Org != v.org:
		add(Altered, "entry of organisation %q in this chain", x.Org)
	case x.Hash != x.ComputeHash():
		add(Altered, "the fields do not give the stored hash")
	}
	wantPrev := v.last.Hash
	if v.last.Seq == 0 {
		wantPrev = Genesis
	}
	switch {
	case x.Seq > v.last.Seq+1:
		v.problems = append(v.problems, Problem{Org: v.org, Seq: v.last.Seq + 1, Kind: Removed,
			Detail: fmt.Sprintf("entries %d to %d are missing", v.last.Seq+1, x.Seq-1)})
		if x.Prev != wantPrev {
			add(Broken, "does not link to entry %d", v.last.Seq)
		}
	case x.Seq <= v.last.Seq:
		add(Broken, "out of order after entry %d", v.last.Seq)
	case x.Prev != wantPrev:
		if v.last.Seq == 0 {
			add(Broken, "the first entry does not start the chain")
		} else {
			add(Broken, "does not link to entry %d", v.last.Seq)
		}
	}
	if _, ok := v.hashes[x.Seq]; ok {
		v.hashes[x.Seq] = x.Hash
	}
	v.last = Head{Org: v.org, Seq: x.Seq, Hash: x.Hash}
}

// Finish checks the end of the chain against its stored head (nil when
// the store has none) and the anchors, and returns every problem found,
// in order of position.
func (v *Verifier) Finish(stored *Head) []Problem {
	switch {
	case stored == nil && v.last.Seq > 0:
		v.problems = append(v.problems, Problem{Org: v.org, Seq: v.last.Seq, Kind: HeadMismatch,
			Detail: "the chain has entries but no stored head"})
	case stored != nil && stored.Seq > v.last.Seq:
		v.problems = append(v.problems, Problem{Org: v.org, Seq: v.last.Seq + 1, Kind: HeadMismatch,
			Detail: fmt.Sprintf("the head is entry %d: entries %d to %d were removed from the end", stored.Seq, v.last.Seq+1, stored.Seq)})
	case stored != nil && stored.Seq < v.last.Seq:
		v.problems = append(v.problems, Problem{Org: v.org, Seq: stored.Seq + 1, Kind: HeadMismatch,
			Detail: fmt.Sprintf("the head is entry %d: entries %d to %d were added outside the log", stored.Seq, stored.Seq+1, v.last.Seq)})
	case stored != nil && stored.Hash != v.last.Hash:
		v.problems = append(v.problems, Problem{Org: v.org, Seq: v.last.Seq, Kind: HeadMismatch,
			Detail: "the last entry's hash is not the stored head's"})
	}
	for _, a := range v.anchors {
		if a.Org != v.org {
			continue
		}
		switch got, ok := v.hashes[a.Seq]; {
		case !ok || got == "":
			v.problems = append(v.problems, Problem{Org: v.org, Seq: a.Seq, Kind: AnchorMismatch,
				Detail: "the anchored entry is gone"})
		case got != a.Hash:
			v.problems = append(v.problems, Problem{Org: v.org, Seq: a.Seq, Kind: AnchorMismatch,
				Detail: "the anchored entry's hash changed: the chain was rewritten"})
		}
	}
	slices.SortStableFunc(v.problems, func(a, b Problem) int { return cmp.Compare(a.Seq, b.Seq) })
	return v.problems
}

// Head is the last entry the verifier saw.
func (v *Verifier) Head() Head { return v.last }
