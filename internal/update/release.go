package update

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind says what a target is: a firmware image or a print-parameter set
// for printers, or the Command Center's own binary.
type Kind string

// The kinds of target.
const (
	KindFirmware   Kind = "firmware"
	KindParameters Kind = "parameters"
	// KindCommandCenter is a build of the fusionfleet binary that a
	// Command Center installs over itself (package selfupdate). Its
	// Models are platforms, GOOS/GOARCH (see Platform).
	KindCommandCenter Kind = "commandcenter"
)

// Kinds lists every kind a printer installs, in the order an agent
// applies them.
var Kinds = []Kind{KindFirmware, KindParameters}

// Validate reports whether k is a known kind.
func (k Kind) Validate() error {
	switch k {
	case KindFirmware, KindParameters, KindCommandCenter:
		return nil
	}
	return fmt.Errorf("kind %q: want firmware, parameters or commandcenter", string(k))
}

// Platform is the model name of a Command Center build for goos and
// goarch, such as "linux/amd64": what a commandcenter target's Models list.
func Platform(goos, goarch string) string { return goos + "/" + goarch }

// validPlatform checks a commandcenter target's model: GOOS/GOARCH of
// lower-case letters and digits.
func validPlatform(m string) error {
	goos, goarch, ok := strings.Cut(m, "/")
	valid := func(s string) bool {
		return s != "" && len(s) <= 16 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
	}
	if !ok || !valid(goos) || !valid(goarch) {
		return fmt.Errorf("platform %q: want GOOS/GOARCH, such as linux/amd64", m)
	}
	return nil
}

// Release is the custom metadata a target carries in the signed targets
// metadata: what it is, which printers it fits and who gets it first.
type Release struct {
	Kind    Kind   `json:"kind"`
	Version string `json:"version"`
	// Models lists the printer model names the target fits; a printer of
	// another model never installs it.
	Models []string `json:"models"`
	// MinVersion is the lowest installed version the target upgrades from
	// (empty: any).
	MinVersion string `json:"min_version,omitempty"`
	// Name is what the printer reports once it is active (a parameter set's
	// name, such as "std-4200-2.2"); empty means the version.
	Name    string   `json:"name,omitempty"`
	Notes   string   `json:"notes,omitempty"`
	Rollout *Rollout `json:"rollout,omitempty"`
}

// Rollout limits a release to some printers first: those whose bucket
// (a hash of target and printer) is below Percent, and those at the named
// sites. A nil Rollout releases to every printer.
type Rollout struct {
	Percent *int     `json:"percent,omitempty"`
	Sites   []string `json:"sites,omitempty"`
}

// Limits on custom metadata, so that a release cannot carry megabytes of
// notes into every printer.
const (
	maxCustomBytes = 64 << 10
	maxNotesBytes  = 16 << 10
	maxModels      = 64
	maxSites       = 256
	maxLabelBytes  = 128
)

// Validate checks the release's fields.
func (r Release) Validate() error {
	if err := r.Kind.Validate(); err != nil {
		return err
	}
	if _, err := ParseVersion(r.Version); err != nil {
		return fmt.Errorf("version: %w", err)
	}
	if r.MinVersion != "" {
		minV, err := ParseVersion(r.MinVersion)
		if err != nil {
			return fmt.Errorf("min version: %w", err)
		}
		if v, _ := ParseVersion(r.Version); v.Compare(minV) <= 0 {
			return fmt.Errorf("min version %s is not below version %s", r.MinVersion, r.Version)
		}
	}
	if len(r.Models) == 0 || len(r.Models) > maxModels {
		return fmt.Errorf("models: want 1 to %d, got %d", maxModels, len(r.Models))
	}
	for _, m := range r.Models {
		if err := validLabel("model", m); err != nil {
			return err
		}
		if r.Kind == KindCommandCenter {
			if err := validPlatform(m); err != nil {
				return err
			}
		}
	}
	if r.Name != "" {
		if err := validLabel("name", r.Name); err != nil {
			return err
		}
	}
	if len(r.Notes) > maxNotesBytes || !utf8.ValidString(r.Notes) {
		return fmt.Errorf("notes: want valid UTF-8 of at most %d bytes", maxNotesBytes)
	}
	if ro := r.Rollout; ro != nil {
		if ro.Percent != nil && (*ro.Percent < 0 || *ro.Percent > 100) {
			return fmt.Errorf("rollout percent %d: want 0 to 100", *ro.Percent)
		}
		if len(ro.Sites) > maxSites {
			return fmt.Errorf("rollout sites: at most %d", maxSites)
		}
		for _, s := range ro.Sites {
			if err := validLabel("rollout site", s); err != nil {
				return err
			}
		}
		if ro.Percent == nil && len(ro.Sites) == 0 {
			return errors.New("rollout: give a percentage, sites or both")
		}
	}
	return nil
}

func validLabel(what, s string) error {
	if s == "" || len(s) > maxLabelBytes || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return fmt.Errorf("%s %q: want 1 to %d bytes of UTF-8 without surrounding space", what, s, maxLabelBytes)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s %q: control character", what, s)
		}
	}
	return nil
}

// DisplayName is what the printer reports once the release is active.
func (r Release) DisplayName() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Version
}

// Fits reports whether the release is meant for the printer model.
func (r Release) Fits(model string) bool { return slices.Contains(r.Models, model) }

// Reaches reports whether a staged rollout includes the printer with the
// given ID at the given site. The bucket is a stable hash of target and
// printer, so a printer stays in or out as the percentage only grows.
func (r Release) Reaches(target, printerID, site string) bool {
	ro := r.Rollout
	if ro == nil {
		return true
	}
	if site != "" && slices.Contains(ro.Sites, site) {
		return true
	}
	if ro.Percent == nil {
		return false
	}
	h := fnv.New64a()
	h.Write([]byte(target))
	h.Write([]byte{0})
	h.Write([]byte(printerID))
	return int(h.Sum64()%100) < *ro.Percent
}

// DecodeRelease decodes and validates a target's custom metadata. The bytes
// come from the repository through a mirror; they are signed, but decoding
// must still survive anything.
func DecodeRelease(raw []byte) (Release, error) {
	if len(raw) > maxCustomBytes {
		return Release{}, fmt.Errorf("custom metadata: %d bytes, at most %d", len(raw), maxCustomBytes)
	}
	var wrap struct {
		FusionFleet *Release `json:"fusionfleet"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&wrap); err != nil {
		return Release{}, fmt.Errorf("custom metadata: %w", err)
	}
	if dec.More() {
		return Release{}, errors.New("custom metadata: trailing data")
	}
	if wrap.FusionFleet == nil {
		return Release{}, errors.New("custom metadata: no fusionfleet release")
	}
	if err := wrap.FusionFleet.Validate(); err != nil {
		return Release{}, fmt.Errorf("custom metadata: %w", err)
	}
	return *wrap.FusionFleet, nil
}

// EncodeRelease is the inverse of DecodeRelease: the release sits under a
// "fusionfleet" key, leaving room for other tools' custom fields.
func EncodeRelease(r Release) (json.RawMessage, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(struct {
		FusionFleet Release `json:"fusionfleet"`
	}{r})
	if err != nil {
		return nil, fmt.Errorf("encode release: %w", err)
	}
	return b, nil
}

// Version is a parsed release version: one to four dot-separated numbers
// and an optional pre-release suffix after a hyphen ("4.3.0", "2.1",
// "5.0.0-rc.2"). A pre-release sorts before its release.
type Version struct {
	nums [4]uint32
	n    int
	pre  string
}

// ParseVersion parses a release version.
func ParseVersion(s string) (Version, error) {
	var v Version
	if s == "" || len(s) > 64 {
		return v, fmt.Errorf("version %q: want 1 to 64 characters", s)
	}
	core, pre, hasPre := strings.Cut(s, "-")
	if hasPre {
		if pre == "" {
			return v, fmt.Errorf("version %q: empty pre-release", s)
		}
		for _, r := range pre {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.') {
				return v, fmt.Errorf("version %q: pre-release may hold only letters, digits and dots", s)
			}
		}
		v.pre = pre
	}
	parts := strings.Split(core, ".")
	if len(parts) > len(v.nums) {
		return v, fmt.Errorf("version %q: at most %d numbers", s, len(v.nums))
	}
	for i, p := range parts {
		if p == "" || len(p) > 1 && p[0] == '0' {
			return v, fmt.Errorf("version %q: want numbers without leading zeros", s)
		}
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return v, fmt.Errorf("version %q: %q is not a number", s, p)
		}
		v.nums[i] = uint32(n)
	}
	v.n = len(parts)
	return v, nil
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after w.
// Missing numbers count as zero ("4.3" equals "4.3.0").
func (v Version) Compare(w Version) int {
	for i := range v.nums {
		if c := cmp.Compare(v.nums[i], w.nums[i]); c != 0 {
			return c
		}
	}
	switch {
	case v.pre == w.pre:
		return 0
	case v.pre == "":
		return 1
	case w.pre == "":
		return -1
	}
	return comparePre(v.pre, w.pre)
}

// comparePre compares pre-release suffixes field by field, numbers
// numerically and below words, as semantic versioning does.
func comparePre(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		an, aErr := strconv.ParseUint(as[i], 10, 64)
		bn, bErr := strconv.ParseUint(bs[i], 10, 64)
		switch {
		case aErr == nil && bErr == nil:
			if c := cmp.Compare(an, bn); c != 0 {
				return c
			}
		case aErr == nil:
			return -1
		case bErr == nil:
			return 1
		default:
			if c := strings.Compare(as[i], bs[i]); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(as), len(bs))
}

// String returns the version as parsed (numbers as given, with the
// pre-release suffix).
func (v Version) String() string {
	var b strings.Builder
	for i := range v.n {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatUint(uint64(v.nums[i]), 10))
	}
	if v.pre != "" {
		b.WriteByte('-')
		b.WriteString(v.pre)
	}
	return b.String()
}

// CompareVersions compares two version strings; an unparsable one sorts
// first, so that it is never taken for newer.
func CompareVersions(a, b string) int {
	va, errA := ParseVersion(a)
	vb, errB := ParseVersion(b)
	switch {
	case errA != nil && errB != nil:
		return strings.Compare(a, b)
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	return va.Compare(vb)
}
