package dashboard

import (
	"context"
	"errors"
	"io"
	"net/http"

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

// maxBundleBytes is the largest bundle the upload form takes, with the
// form around it.
const maxBundleBytes = 256<<20 + 64<<10

// airgapPath is where bundles are uploaded: the one form of the dashboard
// with a body larger than maxFormBytes.
const airgapPath = "/admin/airgap/bundles"

// airgapPages is the air-gapped sites' exchange, for the organisation's
// administrators for all sites.
type airgapPages struct {
	*handler
	airgap  Airgap        // nil: the pages answer 404
	updates UpdateBundles // nil: no update bundle offered
}

// airgapData fills airgap.html.
type airgapData struct {
	Recipient string
	Updates   bool
	Result    *uplink.BundleResult
	Refused   string // why the bundle or the ack was refused
}

func (h *airgapPages) airgapPage(w http.ResponseWriter, r *http.Request, s session) {
	h.show(w, r, s, http.StatusOK, airgapData{})
}

// show renders the page with d, completed with the key and the offers.
func (h *airgapPages) show(w http.ResponseWriter, r *http.Request, s session, status int, d airgapData) {
	if h.airgap == nil {
		h.writeError(w, r, http.StatusNotFound, "Page not found.")
		return
	}
	d.Recipient, d.Updates = h.airgap.PublicKey().Recipient.String(), h.updates != nil
	h.render(w, r, status, "airgap.html", page{Title: "Air-gapped sites", User: &s.user, CSRF: s.csrf, Data: d})
}

// importBundle imports the uploaded bundle and shows what came of it.
func (h *airgapPages) importBundle(w http.ResponseWriter, r *http.Request, s session) {
	if h.airgap == nil {
		h.writeError(w, r, http.StatusNotFound, "Page not found.")
		return
	}
	// authorize parsed the multipart form to check its CSRF token; the
	// file is spooled to disk beyond a few MiB.
	f, _, err := r.FormFile("bundle")
	if err != nil {
		h.show(w, r, s, http.StatusBadRequest, airgapData{Refused: "Please choose the bundle file the Command Center exported."})
		return
	}
	defer f.Close()
	res, err := h.airgap.Import(r.Context(), s.p.Org, f)
	if re, ok := errors.AsType[*uplink.RefusedError](err); ok {
		h.show(w, r, s, http.StatusUnprocessableEntity, airgapData{Refused: re.Reason})
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.show(w, r, s, http.StatusOK, airgapData{Result: &res})
}

// ackFile downloads the acknowledgement of a gateway's newest bundle.
func (h *airgapPages) ackFile(w http.ResponseWriter, r *http.Request, s session) {
	if h.airgap == nil {
		h.writeError(w, r, http.StatusNotFound, "Page not found.")
		return
	}
	gw := r.URL.Query().Get("gateway")
	b, err := h.airgap.AckFile(r.Context(), s.p.Org, fleet.GatewayID(gw))
	if re, ok := errors.AsType[*uplink.RefusedError](err); ok {
		h.show(w, r, s, http.StatusUnprocessableEntity, airgapData{Refused: re.Reason})
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	download(w, "application/json", "fusionfleet-ack.json", b)
}

// publicKey downloads the cloud's public air-gap key file.
func (h *airgapPages) publicKey(w http.ResponseWriter, r *http.Request, _ session) {
	if h.airgap == nil {
		h.writeError(w, r, http.StatusNotFound, "Page not found.")
		return
	}
	b, err := h.airgap.PublicKey().MarshalText()
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	download(w, "text/plain; charset=utf-8", "fusionfleet-cloud-key.txt", b)
}

// updateBundle downloads the update bundle.
func (h *airgapPages) updateBundle(w http.ResponseWriter, r *http.Request, _ session) {
	if h.updates == nil {
		h.writeError(w, r, http.StatusNotFound, "Page not found.")
		return
	}
	b, err := h.updates.UpdateBundle(r.Context())
	if errors.Is(err, update.ErrNoRepository) {
		h.writeError(w, r, http.StatusNotFound, "Page not found.")
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	defer b.Close()
	download(w, "application/zip", "fusionfleet-updates.zip", nil)
	if _, err := b.WriteTo(w); err != nil {
		h.log.Warn("update bundle cut short", "err", err)
	}
}

// download answers with a file to save.
func download(w http.ResponseWriter, contentType, name string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.WriteHeader(http.StatusOK)
	if b != nil {
		_, _ = w.Write(b)
	}
}
