package update

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// download is the fetcher's record of the last file it was asked for, so
// that a refusal can say which file failed and why.
type download struct {
	url    string
	data   []byte
	failed bool // the transfer itself failed (no answer, error status)
}

// fetcher implements go-tuf's fetcher.Fetcher with a hard byte cap and a
// deadline per file: a mirror that streams forever is cut off at the limit
// (the signed length for targets), one that trickles at the deadline. It
// lives for one update session, whose context it carries because go-tuf's
// interface takes none.
type fetcher struct {
	ctx     context.Context
	client  *http.Client
	timeout time.Duration
	last    download
}

// overreadSlack is how far past its limit a download is read to diagnose
// why it is too long. The bytes past the limit are never used.
const overreadSlack = 64 << 10

// DownloadFile fetches url, reading at most maxLength bytes.
func (f *fetcher) DownloadFile(url string, maxLength int64, _ time.Duration) ([]byte, error) {
	f.last = download{url: url}
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		f.last.failed = true
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.last.failed = true
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// go-tuf needs this type: a 404 for the next root ends its search.
		return nil, &metadata.ErrDownloadHTTP{StatusCode: resp.StatusCode, URL: url}
	}
	if resp.ContentLength > maxLength+overreadSlack {
		return nil, &tooLargeError{url: url, limit: maxLength}
	}
	// Read a little past the limit, so that a file slightly longer than
	// its signed length (edited metadata) can be told from an endless one.
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLength+overreadSlack+1))
	f.last.data = data
	if int64(len(data)) > maxLength {
		return nil, &tooLargeError{url: url, limit: maxLength, complete: err == nil && int64(len(data)) <= maxLength+overreadSlack}
	}
	if err != nil {
		f.last.failed = true
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	return data, nil
}
