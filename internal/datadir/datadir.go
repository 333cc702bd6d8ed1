// Package datadir holds a data directory for one process at a time.
//
// Two processes on one data directory corrupt each other: a second cloud
// resets the first one's admin password and makes JetStream rebuild its
// stream, a second Command Center doubles its printers. Lock takes an
// operating-system lock on a file in the directory, as PostgreSQL's
// postmaster.pid and LevelDB's LOCK do; the lock ends with the process,
// however it ends, so a crash never leaves a directory locked. The file
// names the holder, so the second start can say which process to stop.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FileName is the lock file's name inside the directory.
const FileName = "LOCK"

// ErrInUse is wrapped by Lock's error when another process holds the
// directory.
var ErrInUse = errors.New("data directory in use")

// Lock is a held data directory.
type Lock struct {
	f *os.File
}

// Acquire creates dir (0700) if needed and locks it for this process, or
// fails with an error wrapping ErrInUse that names the process holding
// it. what says what holds it ("cloud", "Command Center"), for that
// message. The lock is released by Close or when the process ends.
func Acquire(dir, what string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := lockFile(f); err != nil {
		holder := describe(path)
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%w: %s is used by %s; stop that process first, or give this one another data directory",
				ErrInUse, dir, holder)
		}
		return nil, fmt.Errorf("data directory %s: lock: %w", dir, err)
	}
	// The holder's description, for the next process that tries.
	desc := fmt.Sprintf("pid %d\n%s\n%s\n", os.Getpid(), what, time.Now().UTC().Format(time.RFC3339))
	if err := writeHolder(f, desc); err != nil {
		unlockFile(f)
		f.Close()
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	return &Lock{f: f}, nil
}

// Close releases the directory. The lock file stays: removing it would
// race with a process that has just opened it.
func (l *Lock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := errors.Join(unlockFile(l.f), l.f.Close())
	l.f = nil
	return err
}

func writeHolder(f *os.File, desc string) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(desc), 0); err != nil {
		return err
	}
	return f.Sync()
}

// describe reads the holder's description from the lock file: "process
// 1234 (the cloud, since 2026-12-07T07:40:00Z)", or "another process"
// when the file says nothing readable (the holder has not written it yet).
func describe(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "another process"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "pid ") {
		return "another process"
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(lines[0], "pid "))
	if err != nil || pid <= 0 {
		return "another process"
	}
	return fmt.Sprintf("process %d (%s, since %s)", pid, lines[1], lines[2])
}
