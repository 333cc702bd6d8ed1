package mtconnect

import (
	"embed"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/httpserver"
)

// The schema of the agent's extension observations, served at
// extSchemaPath.
//
//go:embed schema/FusionFleetStreams_2.4.xsd
var schemaFS embed.FS

// partWriteTimeout bounds the writing of one part of a stream: a client
// that stops reading is dropped.
const partWriteTimeout = 30 * time.Second

// Handler serves the standard's REST requests, GET only: probe, current,
// sample and assets, for every device or one (/{device}/probe …, the
// device named by name or uuid), and the extension schema. Anything else
// is answered with an MTConnectError document.
func (a *Agent) Handler() http.Handler {
	return http.HandlerFunc(a.serve)
}

func (a *Agent) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		a.writeError(w, errorf(Unsupported, "the agent is read-only: %s is not supported", r.Method))
		return
	}
	if r.ContentLength != 0 {
		a.writeError(w, errorf(InvalidRequest, "a request has no body"))
		return
	}
	if r.URL.Path == extSchemaPath {
		b, _ := schemaFS.ReadFile("schema/FusionFleetStreams_2.4.xsd")
		w.Header().Set("Content-Type", "application/xml")
		w.Write(b)
		return
	}
	op, device, ids, e := route(r.URL.Path)
	if e != nil {
		a.writeError(w, e)
		return
	}
	q, e := parseQuery(op, r.URL.RawQuery)
	if e != nil {
		a.writeError(w, e)
		return
	}
	q.device = firstOf(device, q.device)
	switch op {
	case "probe":
		e = a.serveProbe(w, q)
	case "current", "sample":
		e = a.serveStreams(w, r, q)
	case "assets":
		e = a.serveAssets(w, q, nil)
	case "asset":
		e = a.serveAssets(w, q, ids)
	}
	if e != nil {
		a.writeError(w, e)
	}
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// route maps a path to its request, the device it names and the asset
// ids of /asset/{ids}.
func route(path string) (op, device string, ids []string, e *Error) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	ops := []string{"probe", "current", "sample", "assets"}
	switch {
	case len(segs) == 1 && segs[0] == "":
		return "probe", "", nil, nil
	case len(segs) == 1 && slices.Contains(ops, segs[0]):
		return segs[0], "", nil, nil
	case len(segs) == 2 && (segs[0] == "asset" || segs[0] == "assets") && segs[1] != "":
		return "asset", "", strings.Split(segs[1], ";"), nil
	case len(segs) == 2 && segs[0] != "" && slices.Contains(ops, segs[1]):
		return segs[1], segs[0], nil, nil
	}
	return "", "", nil, errorf(InvalidURI, "no such request: %q", path)
}

// header is the header of a document written now.
func (a *Agent) header(modelChange time.Time) header {
	return header{instance: a.instance, sender: a.opts.Sender, created: a.opts.Clock.Now(),
		modelChange: modelChange, bufferSize: a.buf.size()}
}

// selected returns the agent's device and the printers' devices q
// selects: all, those of q.deviceType, or the one q.device names.
func (a *Agent) selected(q request) ([]*component, time.Time, *Error) {
	agent, devs, changed := a.model()
	all := append([]*component{agent}, devs...)
	var out []*component
	for _, d := range all {
		if q.deviceType != "" && d.elem != q.deviceType {
			continue
		}
		if q.device != "" && d.name != q.device && d.uuid != q.device {
			continue
		}
		out = append(out, d)
	}
	if q.device != "" && len(out) == 0 {
		return nil, changed, errorf(NoDevice, "no device named %q", q.device)
	}
	return out, changed, nil
}

func (a *Agent) serveProbe(w http.ResponseWriter, q request) *Error {
	devs, changed, e := a.selected(q)
	if e != nil {
		return e
	}
	var agent *component
	if len(devs) > 0 && devs[0].elem == "Agent" {
		agent, devs = devs[0], devs[1:]
	}
	if len(devs) == 0 {
		// The schema asks for at least one Device: a site whose printers
		// were never reached, or a probe of the agent alone, has none.
		if q.device != "" || q.deviceType == "Agent" {
			return errorf(NoDevice, "the agent device has no probe of its own; probe the printers")
		}
		return errorf(NoDevice, "no printer has been reached yet")
	}
	a.write(w, http.StatusOK, probeDoc(a.header(changed), a.opts.AssetBufferSize, a.assetCount(), agent, devs))
	return nil
}

// keeper returns whether an observation's data item belongs to devs.
func keeper(devs []*component) func(*dataItem) bool {
	uuids := map[string]bool{}
	for _, d := range devs {
		uuids[d.uuid] = true
	}
	return func(d *dataItem) bool { return uuids[d.deviceUUID] }
}

// currentObs returns the observations of the data items of devs in
// latest, in the order of the model.
func currentObs(devs []*component, latest map[string]observation) []observation {
	var obs []observation
	for _, d := range devs {
		d.walk(func(c *component) {
			for _, i := range c.items {
				if o, ok := latest[i.id]; ok {
					obs = append(obs, o)
				}
			}
		})
	}
	return obs
}

// serveStreams answers current and sample, streamed with interval.
func (a *Agent) serveStreams(w http.ResponseWriter, r *http.Request, q request) *Error {
	devs, _, e := a.selected(q)
	if e != nil {
		return e
	}
	if q.count > a.buf.size() || -q.count > a.buf.size() {
		return errorf(OutOfRange, "count must be at most the buffer size %d, not %d", a.buf.size(), q.count)
	}
	if q.op == "current" {
		part := a.currentPart(devs, q)
		if !q.stream {
			doc, _, e := part()
			if e != nil {
				return e
			}
			a.write(w, http.StatusOK, doc)
			return nil
		}
		return a.stream(w, r, q, part)
	}
	part, e := a.samplePart(devs, q)
	if e != nil {
		return e
	}
	if !q.stream {
		doc, _, e := part()
		if e != nil {
			return e
		}
		a.write(w, http.StatusOK, doc)
		return nil
	}
	return a.stream(w, r, q, part)
}

// A part makes the next document of a request; news says whether it
// carries anything new since the last.
type part func() (doc []byte, news bool, e *Error)

func (a *Agent) currentPart(devs []*component, q request) part {
	var last uint64
	return func() ([]byte, bool, *Error) {
		_, _, changed := a.model()
		var (
			latest      map[string]observation
			first, next uint64
			nextSeq     uint64
		)
		if q.at != 0 {
			var ok bool
			latest, first, next, ok = a.buf.at(q.at)
			if !ok {
				return nil, false, errorf(OutOfRange, "at must lie in the buffer, %d to %d, not %d", first, next-1, q.at)
			}
			nextSeq = q.at + 1
		} else {
			latest, first, next = a.buf.current()
			nextSeq = next
		}
		news := next != last
		last = next
		return streamsDoc(a.header(changed), first, nextSeq, next-1, currentObs(devs, latest)), news, nil
	}
}

func (a *Agent) samplePart(devs []*component, q request) (part, *Error) {
	first, _, _ := a.buf.sequences()
	sp := span{from: q.from, to: q.to, count: q.count, keep: keeper(devs)}
	if sp.from == 0 {
		sp.from = first
	}
	if sp.count == 0 {
		sp.count = defaultCount
	}
	if sp.count < 0 {
		sp.count, sp.backwards = -sp.count, true
	}
	return func() ([]byte, bool, *Error) {
		_, _, changed := a.model()
		obs, cont, first, next, ok := a.buf.read(sp)
		if !ok {
			return nil, false, errorf(OutOfRange, "from must lie in the buffer, %d to %d, not %d", first, next, sp.from)
		}
		if !sp.backwards {
			sp.from = cont
		}
		return streamsDoc(a.header(changed), first, cont, next-1, obs), len(obs) > 0, nil
	}, nil
}

// stream answers a request with interval: a multipart/x-mixed-replace
// stream of documents, the next one at least interval after the last and
// as soon as there is news, an empty one (a heartbeat) after heartbeat
// without news, until the client leaves or the agent stops. A client
// that falls behind the buffer gets OUT_OF_RANGE as the last part.
func (a *Agent) stream(w http.ResponseWriter, r *http.Request, q request, next part) *Error {
	select {
	case a.streams <- struct{}{}:
		defer func() { <-a.streams }()
	default:
		return errorf(TooMany, "too many streams: at most %d at once", cap(a.streams))
	}
	boundary := "mtconnect-" + strconv.FormatUint(a.instance, 16)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "multipart/x-mixed-replace;boundary="+boundary)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	writePart := func(doc []byte, ctype string) bool {
		rc.SetWriteDeadline(time.Now().Add(partWriteTimeout)) // not supported by every writer: then unbounded
		_, err := w.Write([]byte("--" + boundary + "\r\nContent-type: " + ctype + "\r\nContent-length: " +
			strconv.Itoa(len(doc)) + "\r\n\r\n"))
		if err == nil {
			_, err = w.Write(append(doc, "\r\n"...))
		}
		if err == nil {
			err = rc.Flush()
		}
		return err == nil
	}
	hb := time.NewTimer(q.heartbeat)
	defer hb.Stop()
	due := true // the first part goes at once
	for {
		_, _, changed := a.buf.sequences()
		doc, news, e := next()
		if e != nil {
			writePart(errorDoc(a.header(time.Time{}), e), "text/xml")
			return nil
		}
		if news || due {
			if !writePart(doc, "text/xml") {
				if !httpserver.ClientGone(r) {
					a.log.Debug("stream ended: write failed")
				}
				return nil
			}
			due = false
			hb.Reset(q.heartbeat)
			if q.interval > 0 {
				wait := time.NewTimer(q.interval)
				select {
				case <-r.Context().Done():
					wait.Stop()
					return nil
				case <-a.done:
					wait.Stop()
					return nil
				case <-wait.C:
				}
			}
			continue
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-a.done:
			return nil
		case <-changed:
		case <-hb.C:
			due = true
		}
	}
}

// serveAssets answers /assets, and /asset/{ids} with ids.
func (a *Agent) serveAssets(w http.ResponseWriter, q request, ids []string) *Error {
	_, _, changed := a.model()
	all := a.assetList()
	var out []asset
	if ids != nil {
		for _, id := range ids {
			i := slices.IndexFunc(all, func(as asset) bool { return as.id == id })
			if i < 0 {
				return errorf(AssetNotFound, "no asset %q", id)
			}
			out = append(out, all[i])
		}
	} else {
		if q.device != "" {
			if _, _, e := a.selected(request{device: q.device}); e != nil {
				return e
			}
		}
		count := q.count
		if count == 0 {
			count = defaultCount
		}
		for _, as := range all {
			switch {
			case len(out) >= count:
			case q.typ != "" && q.typ != "RawMaterial":
			case as.removed && !q.removed:
			case q.device != "" && q.device != as.deviceUUID && q.device != as.deviceName:
			default:
				out = append(out, as)
			}
		}
	}
	a.write(w, http.StatusOK, assetsDoc(a.header(changed), a.opts.AssetBufferSize, a.assetCount(), out))
	return nil
}

// assetCount is the number of assets not removed.
func (a *Agent) assetCount() int {
	n := 0
	for _, as := range a.assetList() {
		if !as.removed {
			n++
		}
	}
	return n
}

// write answers with an XML document, dropping a client that does not
// take it within partWriteTimeout.
func (a *Agent) write(w http.ResponseWriter, status int, doc []byte) {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(partWriteTimeout)) // unsupported by a recorder: then unbounded
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(status)
	w.Write(doc)
}

// writeError answers e with its MTConnectError document, once, at the
// edge.
func (a *Agent) writeError(w http.ResponseWriter, e *Error) {
	_, _, changed := a.model()
	a.write(w, e.Code.status(), errorDoc(a.header(changed), e))
}
