package mtconnect

import (
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
)

// asset is the powder in a printer's installed build unit, served as the
// standard's RawMaterial asset.
type asset struct {
	id                     string
	deviceUUID, deviceName string
	devID                  string // the device's XML id
	at                     time.Time
	removed                bool
	serial, material       string
	kg                     float64
}

// same reports whether a and b describe the build unit alike.
func (a *asset) same(b *asset) bool {
	return a.id == b.id && a.removed == b.removed && a.material == b.material && (a.kg > 0) == (b.kg > 0)
}

// buildUnitAsset returns the asset of the build unit installed in p, nil
// when none is (or the printer's wear was never read).
func buildUnitAsset(p commandcenter.Printer, snap commandcenter.Snapshot, dev *component) *asset {
	if snap.Consumables == nil || snap.Consumables.Consumables.BuildUnits.Installed == nil {
		return nil
	}
	u := snap.Consumables.Consumables.BuildUnits.Installed
	if u.SerialNumber == "" {
		return nil
	}
	return &asset{id: "bu-" + idPart(u.SerialNumber), deviceUUID: dev.uuid, deviceName: dev.name, devID: dev.id,
		at: snap.Consumables.Seen, serial: u.SerialNumber, material: u.Material, kg: u.MaterialKG}
}

// updateAssets records the build units of the devices devs now installed
// (installed, at most one per device): a new or changed one is an
// ASSET_CHANGED, one taken out an ASSET_REMOVED. The oldest assets past
// the asset buffer's size are forgotten. a.mu held.
func (a *Agent) updateAssets(devs []*component, installed []*asset) []observation {
	var obs []observation
	now := map[string]*asset{}
	for _, as := range installed {
		now[as.deviceUUID] = as
	}
	for _, d := range devs {
		as := now[d.uuid]
		if old := a.buAsset[d.uuid]; old != "" && (as == nil || as.id != old) {
			if o := a.findAsset(old); o != nil && !o.removed {
				gone := *o
				gone.removed, gone.at = true, latest(o.at, a.opts.Clock.Now())
				a.putAsset(&gone)
				obs = append(obs, observation{item: itemOf(d, d.id+"_asset_rem"), at: gone.at, value: old})
			}
			delete(a.buAsset, d.uuid)
		}
		if as == nil {
			continue
		}
		a.buAsset[d.uuid] = as.id
		if o := a.findAsset(as.id); o != nil && o.same(as) {
			continue
		}
		a.putAsset(as)
		obs = append(obs, observation{item: itemOf(d, d.id+"_asset_chg"), at: as.at, value: as.id})
	}
	return obs
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// findAsset returns the asset with id, nil if none. a.mu held.
func (a *Agent) findAsset(id string) *asset {
	for _, as := range a.assets {
		if as.id == id {
			return as
		}
	}
	return nil
}

// putAsset stores as as the newest change, replacing the asset of its id.
// a.mu held.
func (a *Agent) putAsset(as *asset) {
	for i, o := range a.assets {
		if o.id == as.id {
			a.assets = append(a.assets[:i], a.assets[i+1:]...)
			break
		}
	}
	a.assets = append(a.assets, as)
	if over := len(a.assets) - a.opts.AssetBufferSize; over > 0 {
		a.assets = a.assets[over:]
	}
}

// assetList returns the assets, newest change first.
func (a *Agent) assetList() []asset {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]asset, 0, len(a.assets))
	for i := len(a.assets) - 1; i >= 0; i-- {
		out = append(out, *a.assets[i])
	}
	return out
}
