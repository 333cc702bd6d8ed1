package deviceapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// CollectorsFile is the file, in a printer's data directory, that lists
// the Command Centers paired with it: one certificate fingerprint a line.
const CollectorsFile = "collectors"

// Collectors is the printer's list of paired collectors (Command Centers):
// the SHA-256 fingerprints of the client certificates it serves private
// fields and logs to (see NewHandler). It is kept in a file in the
// printer's data directory, so pairing survives restarts. Safe for
// concurrent use.
//
// How a collector gets on the list: the operator, standing at the printer,
// enters the fingerprint the Command Center shows on its local UI (Pair;
// for the virtual printer its -pair flag, the printer's own side). We
// chose this over a pairing window (pin the first client that connects
// while a button is held) and over a pairing code sent over the network
// because it has nothing to race or guess: during a window any host on the
// LAN could be first, and a code is a secret that a new, writable route of
// the device API would have to guard against guessing. Entering the
// fingerprint is the same check, in the other direction, as the one the
// operator already makes when the Command Center pins the printer's
// certificate, and the device API stays read-only.
type Collectors struct {
	path string

	mu  sync.RWMutex
	fps []Fingerprint
}

// OpenCollectors reads the list of paired collectors kept in dir; a
// missing file is an empty list. A line that is not a fingerprint is an
// error, never skipped: a half-read list would unpair a collector.
// Lines starting with # and blank lines are ignored.
func OpenCollectors(dir string) (*Collectors, error) {
	c := &Collectors{path: filepath.Join(dir, CollectorsFile)}
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("paired collectors: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fp, err := ParseFingerprint(line)
		if err != nil {
			return nil, fmt.Errorf("paired collectors: %s line %d: %w", c.path, n, err)
		}
		if !slices.Contains(c.fps, fp) {
			c.fps = append(c.fps, fp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("paired collectors: %s: %w", c.path, err)
	}
	return c, nil
}

// Paired reports whether fp is a paired collector. A nil list pairs none.
func (c *Collectors) Paired(fp Fingerprint) bool {
	if c == nil || fp == "" {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Contains(c.fps, fp)
}

// List returns the paired collectors in the order they were paired.
func (c *Collectors) List() []Fingerprint {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.fps)
}

// Pair adds the collector whose certificate has fingerprint fp and stores
// the list. Pairing one already paired changes nothing.
func (c *Collectors) Pair(fp Fingerprint) error {
	fp, err := ParseFingerprint(string(fp))
	if err != nil {
		return fmt.Errorf("pair collector: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if slices.Contains(c.fps, fp) {
		return nil
	}
	if err := c.store(append(slices.Clone(c.fps), fp)); err != nil {
		return fmt.Errorf("pair collector %s: %w", fp, err)
	}
	return nil
}

// Unpair removes the collector with fingerprint fp and stores the list; it
// is refused private fields from its next request on.
func (c *Collectors) Unpair(fp Fingerprint) error {
	fp, err := ParseFingerprint(string(fp))
	if err != nil {
		return fmt.Errorf("unpair collector: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.fps, fp)
	if i < 0 {
		return fmt.Errorf("unpair collector %s: not paired with this printer", fp)
	}
	if err := c.store(slices.Delete(slices.Clone(c.fps), i, i+1)); err != nil {
		return fmt.Errorf("unpair collector %s: %w", fp, err)
	}
	return nil
}

// store writes fps to the file, through a temporary file renamed over it
// so a crash leaves the old list or the new one, and then takes them.
func (c *Collectors) store(fps []Fingerprint) error {
	var b strings.Builder
	b.WriteString("# Command Centers paired with this printer: SHA-256 fingerprints of their client certificates.\n")
	for _, fp := range fps {
		b.WriteString(string(fp) + "\n")
	}
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+CollectorsFile+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return err
	}
	c.fps = fps
	return nil
}
