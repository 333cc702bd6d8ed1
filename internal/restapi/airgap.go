package restapi

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// Airgap imports the bundles that air-gapped sites carry to the cloud and
// issues what they carry back (R-PEER-7); *uplink.Importer is one.
type Airgap interface {
	Import(ctx context.Context, org fleet.OrgID, r io.Reader) (uplink.BundleResult, error)
	AckFile(ctx context.Context, org fleet.OrgID, gw fleet.GatewayID) ([]byte, error)
	PublicKey() uplink.CloudPublicKey
}

// UpdateBundles makes the update bundle an air-gapped site imports.
type UpdateBundles interface {
	UpdateBundle(ctx context.Context) (*update.Bundle, error)
}

// MaxBundleBytes is the largest bundle the API and the dashboard take.
const MaxBundleBytes = 256 << 20

// airgapAPI is the air-gapped sites' exchange, for the organisation's
// administrators for all sites.
type airgapAPI struct {
	*handler
	airgap  Airgap        // nil: the routes answer 404
	updates UpdateBundles // nil: no update bundle
}

// unprocessable is a request whose body was read and refused for what it
// holds; its message says why.
type unprocessable string

func (u unprocessable) Error() string { return string(u) }

// refusal maps a bundle's or an acknowledgement's refusal to a 422 that
// says why; other errors pass.
func refusal(err error) error {
	if re, ok := errors.AsType[*uplink.RefusedError](err); ok {
		return unprocessable(re.Reason)
	}
	return err
}

func (h *airgapAPI) importBundle(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if h.airgap == nil {
		return fleet.ErrNotFound
	}
	res, err := h.airgap.Import(r.Context(), p.Org, r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return badRequest("The bundle is larger than the cloud takes: export smaller bundles.")
		}
		return refusal(err)
	}
	h.encode(w, http.StatusOK, res)
	return nil
}

func (h *airgapAPI) ackFile(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if h.airgap == nil {
		return fleet.ErrNotFound
	}
	gw := fleet.GatewayID(r.PathValue("id"))
	b, err := h.airgap.AckFile(r.Context(), p.Org, gw)
	if err != nil {
		return refusal(err)
	}
	attachment(w, "application/json", "fusionfleet-ack-"+string(gw)+".json")
	_, _ = w.Write(b)
	return nil
}

func (h *airgapAPI) publicKey(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	if h.airgap == nil {
		return fleet.ErrNotFound
	}
	b, err := h.airgap.PublicKey().MarshalText()
	if err != nil {
		return err
	}
	attachment(w, "text/plain; charset=utf-8", "fusionfleet-cloud-key.txt")
	_, _ = w.Write(b)
	return nil
}

func (h *airgapAPI) updateBundle(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	if h.updates == nil {
		return fleet.ErrNotFound
	}
	// Mirrored first: an error is answered as one, not as a truncated
	// zip (which the site would refuse anyway).
	b, err := h.updates.UpdateBundle(r.Context())
	if errors.Is(err, update.ErrNoRepository) {
		return fleet.ErrNotFound
	}
	if err != nil {
		return err
	}
	defer b.Close()
	attachment(w, "application/zip", "fusionfleet-updates.zip")
	if _, err := b.WriteTo(w); err != nil {
		h.log.Warn("update bundle cut short", "err", err)
	}
	return nil
}

// attachment sets the headers of a file to download.
func attachment(w http.ResponseWriter, contentType, name string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+safeFileName(name)+`"`)
	w.WriteHeader(http.StatusOK)
}

// safeFileName keeps the characters of a file name that need no quoting.
func safeFileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
