package update

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
)

// Approvals is the document a Command Center serves at
// /tuf/approvals.json: the releases the site's printers may install now
// (its policy and its people's approvals, minus halted rollouts). It is
// not signed: it can only hold releases back, which a mirror could do
// anyway; whatever it names is still verified before it is installed.
type Approvals struct {
	Approved []string `json:"approved"`
}

// maxApprovalsSize caps the approvals document.
const maxApprovalsSize = 1 << 20

// ParseApprovals decodes an approvals document.
func ParseApprovals(b []byte) (Approvals, error) {
	var a Approvals
	if len(b) > maxApprovalsSize {
		return Approvals{}, fmt.Errorf("approvals: %d bytes, at most %d", len(b), maxApprovalsSize)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return Approvals{}, fmt.Errorf("approvals: %w", err)
	}
	return a, nil
}

// ApprovedBy returns an AgentOptions.Approved that asks the mirror at
// baseURL (the Client's: its routes hang off baseURL/tuf/) whether a
// release is approved, through client.
func ApprovedBy(client *http.Client, baseURL string) func(ctx context.Context, t Target) (bool, error) {
	return func(ctx context.Context, t Target) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/tuf/approvals.json", nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("approvals: %s", resp.Status)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxApprovalsSize+1))
		if err != nil {
			return false, fmt.Errorf("approvals: %w", err)
		}
		a, err := ParseApprovals(b)
		if err != nil {
			return false, err
		}
		return slices.Contains(a.Approved, t.Name), nil
	}
}
