package updaterepo

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestAttackMatrix runs each attack of the TUF threat model against a
// printer through a malicious mirror on loopback: each must be refused with
// its own reason, and the printer must stay on its factory firmware.
func TestAttackMatrix(t *testing.T) {
	tests := []struct {
		name string
		// attack prepares the repository and mirror; it may use (and
		// restart) the client, and returns the client to update with.
		attack func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client
		// apply, if set, installs a named target instead of the newest.
		apply func(f *fixture) string
		want  error
	}{
		{
			name: "tampered image",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				img := readTarget(t, f, fw)
				img[len(img)/2] ^= 0x01
				f.mirror.serve(targetPath(fw), img)
				return c
			},
			want: update.ErrTamperedTarget,
		},
		{
			name: "tampered targets metadata (models widened)",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				name := versionedName(f.repo.targets.Signed.Version, metadata.TARGETS)
				f.mirror.serve("/tuf/metadata/"+name, editSigned(t, f.meta(name), func(s map[string]any) {
					tgt := s["targets"].(map[string]any)[fw.Name].(map[string]any)
					rel := tgt["custom"].(map[string]any)["fusionfleet"].(map[string]any)
					rel["models"] = []string{model4200, model5200}
				}))
				return c
			},
			want: update.ErrTamperedMetadata,
		},
		{
			name: "tampered timestamp (expiry pushed out)",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				f.mirror.serve("/tuf/metadata/timestamp.json", editSigned(t, f.meta("timestamp.json"), func(s map[string]any) {
					s["expires"] = "2036-01-01T00:00:00Z"
				}))
				return c
			},
			want: update.ErrTamperedMetadata,
		},
		{
			name: "signature by an unknown key",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				ts, err := metadata.Timestamp().FromBytes(f.meta("timestamp.json"))
				if err != nil {
					t.Fatal(err)
				}
				ts.Signed.Version += 10
				ts.ClearSignatures()
				if err := signAll(ts, []*signingKey{attackerKey(t)}); err != nil {
					t.Fatal(err)
				}
				f.mirror.serve("/tuf/metadata/timestamp.json", toBytes(t, ts))
				return c
			},
			want: update.ErrUnknownKey,
		},
		{
			name: "too few signatures for the targets threshold",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				// One of the two targets keys is stolen, and the online
				// keys too: a fully consistent repository state whose
				// targets carry one valid signature of the two required.
				republishTargets(t, f, func(m *metadata.Metadata[metadata.TargetsType]) {
					m.Signatures = m.Signatures[:1]
				})
				return c
			},
			want: update.ErrThreshold,
		},
		{
			name: "rollback to older metadata",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				old := f.meta("timestamp.json")
				f.release(firmware("4.4.0", model4200))
				mustCheck(t, c) // the printer has seen 4.4.0's state
				f.mirror.serve("/tuf/metadata/timestamp.json", old)
				return c
			},
			want: update.ErrRollback,
		},
		{
			name: "rollback to older metadata after a restart",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				old := f.meta("timestamp.json")
				f.release(firmware("4.4.0", model4200))
				mustCheck(t, c)
				f.mirror.serve("/tuf/metadata/timestamp.json", old)
				return f.client(model4200) // restarted: only the state directory remains
			},
			want: update.ErrRollback,
		},
		{
			name: "replay of expired timestamp (freeze)",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				mustCheck(t, c)
				// The cloud stops re-signing; the mirror keeps serving the
				// last timestamp as it ages past its one-day expiry.
				f.release(firmware("4.4.0", model4200))
				f.mirror.serve("/tuf/metadata/timestamp.json", f.meta("timestamp.json"))
				f.clk.Advance(25 * time.Hour)
				return c
			},
			want: update.ErrExpired,
		},
		{
			name: "mix and match targets of two snapshots",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				oldName := versionedName(f.repo.targets.Signed.Version, metadata.TARGETS)
				old := f.meta(oldName)
				f.release(update.Release{Kind: update.KindParameters, Version: "2.2", Name: "std-4200-2.2", Models: []string{model4200}})
				newName := versionedName(f.repo.targets.Signed.Version, metadata.TARGETS)
				f.mirror.serve("/tuf/metadata/"+newName, old)
				return c
			},
			want: update.ErrMixAndMatch,
		},
		{
			name: "firmware for another printer model",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				f.release(firmware("4.4.0", model5200))
				return c
			},
			apply: func(f *fixture) string { return TargetName(firmware("4.4.0", model5200), "image.bin") },
			want:  update.ErrWrongModel,
		},
		{
			name: "endless target download",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				f.mirror.set(targetPath(fw), endless)
				return c
			},
			want: update.ErrTooLarge,
		},
		{
			name: "endless timestamp download",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				f.mirror.set("/tuf/metadata/timestamp.json", endless)
				return c
			},
			want: update.ErrTooLarge,
		},
		{
			name: "compromised mirror serving arbitrary bytes",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				rng := rand.New(rand.NewPCG(1, 2))
				f.mirror.set("*", func(w http.ResponseWriter, r *http.Request) {
					b := make([]byte, 2000)
					for i := range b {
						b[i] = byte(rng.Uint32())
					}
					w.Write(b)
				})
				return c
			},
			want: update.ErrMalformed,
		},
		{
			name: "compromised mirror serving a snapshot as timestamp",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				snap := versionedName(f.repo.snapshot.Signed.Version, metadata.SNAPSHOT)
				f.mirror.serve("/tuf/metadata/timestamp.json", f.meta(snap))
				return c
			},
			want: update.ErrMalformed,
		},
		{
			name: "root rotation signed only by the new keys",
			attack: func(t *testing.T, f *fixture, c *update.Client, fw TargetInfo) *update.Client {
				if err := f.repo.rotateRoot(3, 2, false); err != nil {
					t.Fatal(err)
				}
				return c
			},
			want: update.ErrRootRotation,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			fw := f.release(firmware("4.3.0", model4200))
			c := tc.attack(t, f, f.client(model4200), fw)
			start := func(ctx context.Context, in update.Installed) error {
				f.dev.SetFirmware(in.Version)
				return nil
			}
			var err error
			if tc.apply != nil {
				_, err = c.Apply(t.Context(), update.KindFirmware, tc.apply(f), start)
			} else {
				_, err = c.Update(t.Context(), update.KindFirmware, start)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var re *update.RefusedError
			if !errors.As(err, &re) {
				t.Errorf("got %T, want a *update.RefusedError", err)
			}
			for _, other := range update.RefusalReasons {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("error %v also matches %v", err, other)
				}
			}
			t.Logf("refused: %v", err)
			if got := installedVersion(t, c, update.KindFirmware); got != "4.2.9" {
				t.Errorf("installed firmware %s, want the factory 4.2.9", got)
			}
			if got := f.dev.Calls(); got != "" {
				t.Errorf("device was told %q", got)
			}
		})
	}
}

func mustCheck(t *testing.T, c *update.Client) {
	t.Helper()
	if _, err := c.Check(t.Context(), update.KindFirmware); err != nil {
		t.Fatalf("check before the attack: %v", err)
	}
}

func installedVersion(t *testing.T, c *update.Client, k update.Kind) string {
	t.Helper()
	s, err := c.Installed(k)
	if err != nil {
		t.Fatal(err)
	}
	return s.Version
}

func readTarget(t *testing.T, f *fixture, ti TargetInfo) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.repo.Dir(), update.TargetsDir, ti.SHA256+"."+ti.Name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editSigned changes the signed part of metadata and keeps its signatures.
func editSigned(t *testing.T, b []byte, edit func(signed map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m["signed"].(map[string]any))
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func attackerKey(t *testing.T) *signingKey {
	t.Helper()
	k, err := newSigningKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func toBytes[T metadata.Roles](t *testing.T, m *metadata.Metadata[T]) []byte {
	t.Helper()
	b, err := m.ToBytes(false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// republishTargets rewrites the current targets metadata with edit and
// publishes a snapshot and timestamp naming the rewritten file, as an
// attacker holding the online keys could.
func republishTargets(t *testing.T, f *fixture, edit func(*metadata.Metadata[metadata.TargetsType])) {
	t.Helper()
	r := f.repo
	r.mu.Lock()
	defer r.mu.Unlock()
	name := versionedName(r.targets.Signed.Version, metadata.TARGETS)
	m, err := metadata.Targets().FromBytes(f.meta(name))
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	b := toBytes(t, m)
	if err := r.writeFile(name, b); err != nil {
		t.Fatal(err)
	}
	r.snapshot.Signed.Meta["targets.json"] = metaFile(r.targets.Signed.Version, b)
	if err := r.publishSnapshot(); err != nil {
		t.Fatal(err)
	}
}
