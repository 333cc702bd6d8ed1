package localui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
)

// The upload log shows the update mirror's fetches beside the uploads, as
// kind "mirror" with what they fetched, on the page and in the API.
func TestUploadLogShowsMirrorFetches(t *testing.T) {
	st := handlerStore(t)
	clk := clock.NewManual(handlerNow)
	uploadAll(t, st, clk)
	cloud := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"signed":{}}`)
	}))
	defer cloud.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, cloud.URL+"/tuf/timestamp.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := st.TransferLog(http.DefaultTransport, commandcenter.TransferLogOptions{Clock: clk}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	h := NewHandler(SourcesOf(st), HandlerOptions{Clock: clk})

	_, body := get(t, h, "GET", "/uploads")
	containsAll(t, "upload log", body, "<th scope=\"col\">Kind</th>", "<td>data</td><td>bulk</td>",
		"<td>mirror</td><td>update mirror</td>", `class="out-fetched">fetched`, "<code>/tuf/timestamp.json</code>",
		"a fetch: nothing sent", `href="/uploads/1"`)
	if strings.Contains(body, `href="/uploads/2"`) {
		t.Error("the upload log links a mirror fetch as an upload with a payload")
	}
	_, body = get(t, h, "GET", "/uploads/2")
	containsAll(t, "mirror fetch page", body, "<dt>Kind</dt><dd>mirror</dd>", "<dt>Fetched</dt><dd><code>/tuf/timestamp.json</code>",
		"13 B received", "sent no data of the site")

	var list []commandcenter.UploadEntry
	getJSON(t, h, "/api/uploads", &list)
	if len(list) != 2 || list[0].Kind != commandcenter.TransferMirror || list[0].Path != "/tuf/timestamp.json" ||
		list[0].Outcome != commandcenter.UploadFetched || list[1].Kind != commandcenter.TransferData || list[1].Path != "" {
		t.Errorf("/api/uploads = %+v, want the mirror's fetch, then the data upload", list)
	}
}
