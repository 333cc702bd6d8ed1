package updaterepo

import (
	"bytes"
	"context"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/update"
)

// BenchmarkUpdate measures a whole firmware update over loopback TLS:
// metadata refresh, download of a 16 MiB image, length and hash check,
// installation into the inactive slot. Each round starts from a fresh
// printer state.
func BenchmarkUpdate(b *testing.B) {
	f := newFixture(b)
	img := bytes.Repeat([]byte("0123456789abcdef"), 1<<20)
	rel := firmware("4.3.0", model4200)
	if _, err := f.repo.AddTarget(b.Context(), "firmware-4.3.0.bin", rel, bytes.NewReader(img), int64(len(img))); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		f.state = b.TempDir()
		c := f.client(model4200)
		if _, err := c.Update(b.Context(), update.KindFirmware, func(context.Context, update.Installed) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
