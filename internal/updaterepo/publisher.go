package updaterepo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Publisher is the release tool's side of POST /tuf/publish: it asks a
// cloud which target files it already serves and uploads the repository's
// metadata with the target files the cloud lacks.
type Publisher struct {
	// URL is the cloud's base URL, without /tuf.
	URL string
	// Token is the bearer token the cloud's ServiceOptions.TokenFile
	// holds.
	Token string
	// Client sends the requests; nil → http.DefaultClient.
	Client *http.Client
	// Progress, if set, receives a text progress bar as the upload goes
	// out.
	Progress io.Writer
}

// Publish uploads r's current state: every root version, the current
// targets metadata, and the target files the cloud does not hold yet.
func (p *Publisher) Publish(ctx context.Context, r *Repo) (PublishAnswer, error) {
	files, err := r.UploadFiles(func(file string) (bool, error) { return p.Holds(ctx, file) })
	if err != nil {
		return PublishAnswer{}, err
	}
	return p.Upload(ctx, files)
}

// Holds asks the cloud whether it already serves a target file
// ("SHA256.NAME").
func (p *Publisher) Holds(ctx context.Context, file string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, p.base()+"/tuf/targets/"+file, nil)
	if err != nil {
		return false, err
	}
	resp, err := p.client().Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("ask the cloud for %s: %s", file, resp.Status)
}

// Upload streams files as an upload archive to POST /tuf/publish and
// returns the cloud's answer.
func (p *Publisher) Upload(ctx context.Context, files []PublishFile) (PublishAnswer, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := WriteUpload(ctx, pw, files, p.Progress)
		pw.CloseWithError(err)
		done <- err
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base()+"/tuf/publish", pr)
	if err != nil {
		pr.Close()
		<-done
		return PublishAnswer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+p.Token)
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := p.client().Do(req)
	pr.Close() // the server answered or gave up: stop writing
	werr := <-done
	if err != nil {
		return PublishAnswer{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return PublishAnswer{}, fmt.Errorf("cloud answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		return PublishAnswer{}, werr
	}
	var ans PublishAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return PublishAnswer{}, fmt.Errorf("cloud answer: %w", err)
	}
	return ans, nil
}

func (p *Publisher) base() string { return strings.TrimSuffix(p.URL, "/") }

func (p *Publisher) client() *http.Client {
	if p.Client == nil {
		return http.DefaultClient
	}
	return p.Client
}
