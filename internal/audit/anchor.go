package audit

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The anchor format: one head a line, "head <org> <seq> <hash>", the
// operator's chain written "-". Verification prints the heads it found in
// it; an operator keeps that output outside the database (another
// machine, a ticket, a printout) and hands it to a later verification,
// which checks that each anchored entry is still there, unchanged.

// maxAnchorLine bounds a line of an anchor file.
const maxAnchorLine = 4096

// FormatHead writes h as an anchor line.
func FormatHead(h Head) string {
	org := string(h.Org)
	if h.Org == SystemOrg {
		org = "-"
	}
	return fmt.Sprintf("head %s %d %s", org, h.Seq, h.Hash)
}

// ParseHeads reads the anchor lines of r; other lines (a report's
// problems and headings) are skipped. A malformed head line is an error
// naming its line.
func ParseHeads(r io.Reader) ([]Head, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxAnchorLine)
	var out []Head
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "head" {
			continue
		}
		if len(f) != 4 {
			return nil, fmt.Errorf("anchor line %d: want \"head <org> <seq> <hash>\"", n)
		}
		seq, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || seq < 0 {
			return nil, fmt.Errorf("anchor line %d: sequence number %q", n, f[2])
		}
		if !isHash(f[3]) {
			return nil, fmt.Errorf("anchor line %d: hash %q is not 64 lower-case hex digits", n, f[3])
		}
		h := Head{Org: fleet.OrgID(f[1]), Seq: seq, Hash: f[3]}
		if f[1] == "-" {
			h.Org = SystemOrg
		}
		out = append(out, h)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("anchors: %w", err)
	}
	return out, nil
}

func isHash(s string) bool {
	if len(s) != len(Genesis) {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
