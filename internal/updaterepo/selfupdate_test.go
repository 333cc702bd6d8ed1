package updaterepo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/update"
)

func commandCenter(version string, platforms ...string) update.Release {
	return update.Release{Kind: update.KindCommandCenter, Version: version, Models: platforms}
}

// A Command Center downloads its own builds through the printers' client:
// the newest for its platform above its version, not one it refused,
// verified against the signed hashes whatever the mirror serves.
func TestDownloadCommandCenterBuild(t *testing.T) {
	f := newFixture(t)
	f.release(commandCenter("1.1.0", "linux/amd64", "linux/arm64"))
	v12 := f.release(commandCenter("1.2.0", "linux/amd64"))
	f.release(commandCenter("1.3.0", "windows/amd64"))
	f.release(firmware("9.0.0", "linux/amd64")) // another kind, the same "model"
	c := f.client("linux/amd64")

	for _, tc := range []struct {
		name, installed string
		skip            []string
		want            string // version, or the error
		wantErr         error
	}{
		{name: "newest for the platform", installed: "1.0.0", want: "1.2.0"},
		{name: "refused one skipped", installed: "1.0.0", skip: []string{v12.Name}, want: "1.1.0"},
		{name: "up to date", installed: "1.2.0", wantErr: update.ErrNoUpdate},
		{name: "never a downgrade", installed: "2.0.0", wantErr: update.ErrNoUpdate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tg, file, err := c.Download(t.Context(), update.KindCommandCenter, tc.installed, tc.skip, dir)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Download: %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tg.Version != tc.want {
				t.Errorf("downloaded %s, want %s", tg.Version, tc.want)
			}
			b, err := os.ReadFile(file)
			if err != nil || !strings.HasPrefix(string(b), "commandcenter "+tc.want) || filepath.Dir(file) != dir {
				t.Errorf("file %s: %.30q, %v", file, b, err)
			}
		})
	}

	t.Run("unparsable installed version", func(t *testing.T) {
		if _, _, err := c.Download(t.Context(), update.KindCommandCenter, "(devel)", nil, t.TempDir()); err == nil || errors.Is(err, update.ErrNoUpdate) {
			t.Errorf("Download over a development build: %v, want an error", err)
		}
	})

	t.Run("tampered", func(t *testing.T) {
		f.mirror.serve(targetPath(v12), []byte(strings.Repeat("x", int(v12.Length))))
		dir := t.TempDir()
		_, _, err := c.Download(t.Context(), update.KindCommandCenter, "1.0.0", nil, dir)
		if !errors.Is(err, update.ErrTamperedTarget) {
			t.Fatalf("tampered build: %v, want update.ErrTamperedTarget", err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("a tampered build left %v", ents)
		}
	})
}

func TestCommandCenterReleaseNamesPlatforms(t *testing.T) {
	for _, tc := range []struct {
		platform string
		ok       bool
	}{
		{"linux/amd64", true},
		{"windows/arm64", true},
		{"FF-4200", false},
		{"linux/", false},
		{"Linux/amd64", false},
		{"linux/amd64/v3", false},
	} {
		err := commandCenter("1.0.0", tc.platform).Validate()
		if (err == nil) != tc.ok {
			t.Errorf("platform %q: %v, want ok %v", tc.platform, err, tc.ok)
		}
	}
}
