package update

import (
	"os"
	"path/filepath"
	"strings"
)

// The layout of a repository directory, shared by the cloud's repository
// and a site's mirror: where each keeps what it serves.
const (
	MetadataDir = "repository/metadata"
	TargetsDir  = "repository/targets"
)

// SafeName maps s to a file name of letters, digits, '.', '-' and '_'
// that does not start with a dot.
func SafeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return strings.TrimLeft(string(b), ".")
}

// WriteFileAtomic writes b to name with perm through a synced temporary
// file in the same directory: readers see the old content or the new.
func WriteFileAtomic(name string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), perm); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}
