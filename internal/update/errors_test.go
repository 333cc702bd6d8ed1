package update

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func TestRoleOf(t *testing.T) {
	tests := map[string]string{
		"https://cc.local/tuf/metadata/timestamp.json":   "timestamp",
		"https://cc.local/tuf/metadata/12.targets.json":  "targets",
		"https://cc.local/tuf/metadata/2.root.json":      "root",
		"https://cc.local/tuf/metadata/3.snapshot.json":  "snapshot",
		"https://cc.local/tuf/targets/ab.firmware-1.bin": "",
		"https://cc.local/tuf/metadata/3.delegate.json":  "",
	}
	for url, want := range tests {
		if got := roleOf(url); got != want {
			t.Errorf("roleOf(%s) = %q, want %q", url, got, want)
		}
	}
}

// FuzzClassifyRefresh feeds arbitrary bytes, as a mirror could serve them,
// to the diagnosis of a refused refresh: it must never panic and must
// always give one of the refusal reasons.
func FuzzClassifyRefresh(f *testing.F) {
	dir := f.TempDir()
	repo, err := InitRepo(dir, RepoOptions{})
	if err != nil {
		f.Fatal(err)
	}
	root := repo.root
	for _, name := range []string{"1.root.json", "timestamp.json", "1.snapshot.json", "1.targets.json"} {
		b, err := os.ReadFile(filepath.Join(dir, repoMetadataDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
	}
	f.Add([]byte(`{"signed":{"_type":"timestamp"},"signatures":[{"keyid":"00","sig":"zz"}]}`), uint8(1))
	roles := []string{"timestamp", "snapshot", "targets", "root"}
	causes := []error{
		&metadata.ErrUnsignedMetadata{Msg: "fuzz"}, &metadata.ErrLengthOrHashMismatch{Msg: "fuzz"},
		&metadata.ErrBadVersionNumber{Msg: "fuzz"}, &tooLargeError{url: "x", limit: 10, complete: true},
		errors.New("fuzz"),
	}
	f.Fuzz(func(t *testing.T, data []byte, pick uint8) {
		role := roles[int(pick)%len(roles)]
		cause := causes[int(pick/4)%len(causes)]
		last := download{url: "https://mirror/tuf/metadata/" + role + ".json", data: data}
		err := classifyRefresh(cause, last, root)
		var re *RefusedError
		if !errors.As(err, &re) || !slices.Contains(reasons, re.Reason) {
			t.Fatalf("classifyRefresh gave %v", err)
		}
	})
}
