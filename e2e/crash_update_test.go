package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// Issue 19's kill during an update download: a firmware target of 2 MB is
// published while the Command Center's uplink is capped at 1 Mbit/s, so its
// mirror takes about 16 s to fetch it; the Command Center is killed with
// SIGKILL at a random moment of that download and started again. The
// target ends up mirrored with its signed hash, the mirror's /tuf/ never
// serves a part of it (only 404 or the whole signed bytes, checked all
// along), and the delivery promise holds.
func TestCrashDuringUpdateDownload(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads an update at a capped rate and kills the Command Center")
	}
	t.Parallel()
	rng := mrand.New(mrand.NewPCG(seed(t), 19))
	dir := t.TempDir()
	bin := buildBinary(t)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args[:2], " "), err, out)
		}
		return string(out)
	}

	// The manufacturer's repository, exported empty for the cloud.
	repo, tuf := filepath.Join(dir, "repo"), filepath.Join(dir, "tuf")
	run("release", "init", "-dir", repo, "-root-keys", "1", "-root-threshold", "1")
	run("release", "export", "-dir", repo, "-to", tuf)
	releaseToken := filepath.Join(dir, "release-token")
	if err := os.WriteFile(releaseToken, []byte("release-token-for-the-test-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := startFleet(t, fleetOptions{
		ccArgs:    []string{"-uplink-rate", "1000000", "-update-interval", "1s"},
		cloudArgs: []string{"-tuf-repo", tuf, "-release-token-file", releaseToken},
	})

	// 2 MB of firmware for the printers' model.
	firmware := make([]byte, 2<<20)
	rand.Read(firmware)
	fwFile := filepath.Join(dir, "firmware.bin")
	if err := os.WriteFile(fwFile, firmware, 0o644); err != nil {
		t.Fatal(err)
	}
	out := run("release", "add-target", "-dir", repo, "-kind", "firmware", "-version", "9.1.0", "-models", "FF-4200", fwFile)
	added := regexp.MustCompile(`(?m)^added (\S+) .* sha256 ([0-9a-f]{64})`).FindStringSubmatch(out)
	if added == nil {
		t.Fatalf("release add-target printed no name and hash:\n%s", out)
	}
	name, sum := added[1], added[2]
	if got := sha256.Sum256(firmware); hex.EncodeToString(got[:]) != sum {
		t.Fatalf("signed sha256 %s is not the firmware's", sum)
	}
	run("release", "publish", "-dir", repo, "-to", "https://"+f.cloudAddr, "-token-file", releaseToken, "-ca-file", f.ca)
	published := time.Now()

	// Watch the mirror's copy all along: 404 until it is whole, then the
	// whole signed bytes, never a prefix.
	target := "tuf/targets/" + sum + "." + name
	var (
		mu       sync.Mutex
		ui       = f.ui
		partials []string
		served   int
		missing  int
	)
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			mu.Lock()
			base := ui
			mu.Unlock()
			status, body, err := fetch(base + target)
			if err != nil {
				continue // the Command Center is down
			}
			mu.Lock()
			switch {
			case status == http.StatusNotFound:
				missing++
			case status == http.StatusOK && bytes.Equal(body, firmware):
				served++
			default:
				partials = append(partials, fmt.Sprintf("%d with %d bytes", status, len(body)))
			}
			mu.Unlock()
		}
	}()

	// SIGKILL at a random moment 3–10 s after publishing: the mirror is
	// fetching then (16 s at the cap).
	time.Sleep(time.Until(published.Add(time.Duration(3000+rng.IntN(7000)) * time.Millisecond)))
	status, _, err := fetch(f.ui + target)
	if err != nil || status != http.StatusNotFound {
		t.Fatalf("before the kill the target answers %d (%v), want 404: the download was not under way", status, err)
	}
	killedAfter := time.Since(published)
	f.cc.kill()
	f.startCC()
	mu.Lock()
	ui = f.ui
	mu.Unlock()

	// The download starts over and completes: the copy is served whole and
	// the local API lists the release.
	if err := wait.Until(90*time.Second, 200*time.Millisecond, func() error {
		status, body, err := fetch(f.ui + target)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("%s: %d", target, status)
		}
		if got := sha256.Sum256(body); hex.EncodeToString(got[:]) != sum {
			return fmt.Errorf("%s: %d bytes that do not hash to the signed sha256", target, len(body))
		}
		list, err := getBody(f.ui + "api/updates")
		if err != nil {
			return err
		}
		if !strings.Contains(list, "9.1.0") {
			return fmt.Errorf("api/updates lists no 9.1.0: %.300s", list)
		}
		return nil
	}); err != nil {
		t.Fatalf("after the kill: %v\nstderr:\n%s", err, f.cc.out)
	}
	close(stop)
	<-watched
	mu.Lock()
	if len(partials) > 0 {
		t.Errorf("the mirror served a partial target: %v", partials)
	}
	t.Logf("the watcher's fetches of the target: %d answered 404, %d the whole signed bytes", missing, served)
	mu.Unlock()
	records, kept := f.audit(3)
	t.Logf("killed %s after publishing; mirrored and verified %s after; %d records (%d kept in the outbox)",
		killedAfter.Round(time.Millisecond), time.Since(published).Round(time.Millisecond), records, kept)
}

// fetch GETs url and returns its status and up to 4 MB of its body.
func fetch(url string) (int, []byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b, err
}
