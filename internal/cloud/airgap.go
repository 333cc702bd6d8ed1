package cloud

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// The cloud's side of air-gapped sites (R-PEER-7): its air-gap key, the
// importer of their bundles, and the update bundles they take home.

// loadAirgapKey reads the key file, making it (readable by the node's
// user only) when there is none yet.
func loadAirgapKey(path string) (uplink.CloudKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := uplink.GenerateCloudKey(rand.Reader)
		if err != nil {
			return uplink.CloudKey{}, err
		}
		text, err := k.MarshalText()
		if err != nil {
			return uplink.CloudKey{}, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return uplink.CloudKey{}, fmt.Errorf("air-gap key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return uplink.CloudKey{}, fmt.Errorf("air-gap key: %w", err)
		}
		if _, err := f.Write(text); err != nil {
			f.Close()
			return uplink.CloudKey{}, fmt.Errorf("air-gap key: %w", err)
		}
		if err := errors.Join(f.Sync(), f.Close()); err != nil {
			return uplink.CloudKey{}, fmt.Errorf("air-gap key: %w", err)
		}
		return k, nil
	}
	if err != nil {
		return uplink.CloudKey{}, fmt.Errorf("air-gap key: %w", err)
	}
	return uplink.ParseCloudKey(b)
}

// airgapKeyPath is where the node's air-gap key is kept.
func (o Options) airgapKeyPath() string {
	return cmp.Or(o.AirgapKeyFile, filepath.Join(o.DataDir, "airgap.key"))
}

// updateBundles makes the update bundles of the node's repository.
type updateBundles struct{ updates *updaterepo.Service }

// UpdateBundle mirrors every release the repository offers into a bundle.
func (u updateBundles) UpdateBundle(ctx context.Context) (*update.Bundle, error) {
	return update.NewBundle(ctx, u.updates.Handler(), nil)
}

// Airgap is the importer of air-gapped sites' bundles that the dashboard
// and the API use.
func (n *Node) Airgap() *uplink.Importer { return n.airgap }

// WriteUpdateBundle writes the update bundle air-gapped sites import: every
// release of the node's repository.
func (n *Node) WriteUpdateBundle(ctx context.Context, w io.Writer) error {
	return update.WriteBundle(ctx, w, n.updates.Handler(), nil)
}
