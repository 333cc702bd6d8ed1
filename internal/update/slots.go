package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Slot is one half of an A/B pair: the release installed in it.
type Slot struct {
	Version string `json:"version,omitempty"`
	Name    string `json:"name,omitempty"`   // what the printer reports (see Release.DisplayName)
	Target  string `json:"target,omitempty"` // the TUF target name, empty for the factory install
	File    string `json:"file,omitempty"`   // the installed file, relative to the slot's directory
}

// Slots is the A/B state of one kind of target, persisted in the state
// directory as KIND/slots.json, with each slot's files in KIND/a and KIND/b.
// An update writes the inactive slot, switches to it on trial, and commits
// only once the start check passes; a trial found at load time (the check
// never finished) is rolled back, as a boot loader falls back to the slot
// that last started.
type Slots struct {
	Active string `json:"active"` // "a" or "b"
	A      Slot   `json:"a"`
	B      Slot   `json:"b"`
	Trial  bool   `json:"trial,omitempty"`
	// Failed lists targets that failed their start check, newest last, so
	// that they are not tried again.
	Failed []string `json:"failed,omitempty"`
}

const maxFailed = 32

// Inactive returns the name of the slot not in use.
func (s Slots) Inactive() string {
	if s.Active == "a" {
		return "b"
	}
	return "a"
}

// Get returns the named slot.
func (s Slots) Get(name string) Slot {
	if name == "a" {
		return s.A
	}
	return s.B
}

func (s *Slots) set(name string, sl Slot) {
	if name == "a" {
		s.A = sl
	} else {
		s.B = sl
	}
}

// Current returns the active slot.
func (s Slots) Current() Slot { return s.Get(s.Active) }

// slotStore reads and writes one kind's slots.
type slotStore struct{ dir string }

func (st slotStore) path() string { return filepath.Join(st.dir, "slots.json") }

func (st slotStore) slotDir(name string) string { return filepath.Join(st.dir, name) }

// load returns the persisted slots, or slot a holding the factory release
// if none are persisted yet. A trial left from an interrupted start is
// rolled back and reported by rolledBack.
func (st slotStore) load(factory Slot) (s Slots, rolledBack bool, err error) {
	b, err := os.ReadFile(st.path())
	if errors.Is(err, fs.ErrNotExist) {
		if factory.Name == "" {
			factory.Name = factory.Version
		}
		s = Slots{Active: "a", A: factory}
		return s, false, st.save(s)
	}
	if err != nil {
		return Slots{}, false, fmt.Errorf("slots: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return Slots{}, false, fmt.Errorf("slots %s: %w", st.path(), err)
	}
	if s.Active != "a" && s.Active != "b" {
		return Slots{}, false, fmt.Errorf("slots %s: active slot %q", st.path(), s.Active)
	}
	if s.Trial {
		s.fail()
		return s, true, st.save(s)
	}
	return s, false, nil
}

// fail switches back from a trial slot and remembers its target as failed.
func (s *Slots) fail() {
	if t := s.Current().Target; t != "" {
		s.Failed = append(s.Failed, t)
		if len(s.Failed) > maxFailed {
			s.Failed = s.Failed[len(s.Failed)-maxFailed:]
		}
	}
	s.Active = s.Inactive()
	s.Trial = false
}

func (st slotStore) save(s Slots) error {
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return fmt.Errorf("slots: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("slots: %w", err)
	}
	if err := WriteFileAtomic(st.path(), b, 0o600); err != nil {
		return fmt.Errorf("slots: %w", err)
	}
	return nil
}
