package site

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// gatewayCloud is the cloud as the uploader sees it: the uplink client with
// this gateway's credentials.
type gatewayCloud struct {
	client *uplink.Client
	cred   uplink.Credentials
}

func (c gatewayCloud) Upload(ctx context.Context, b uplink.Batch) (uplink.Ack, error) {
	return c.client.Upload(ctx, c.cred, b)
}

func (c gatewayCloud) CheckIn(ctx context.Context) ([]fleet.DiagnosticRequest, error) {
	return c.client.CheckIn(ctx, c.cred)
}

func (c gatewayCloud) ReportDiagnostic(ctx context.Context, r fleet.DiagnosticReport) (uplink.DiagnosticAnswer, error) {
	return c.client.ReportDiagnostic(ctx, c.cred, r)
}

func (c gatewayCloud) PutDiagnosticChunk(ctx context.Context, ch fleet.DiagnosticChunkData) (uplink.DiagnosticAnswer, error) {
	return c.client.PutDiagnosticChunk(ctx, c.cred, ch)
}

// enrol returns the stored gateway credentials, enrolling with the
// one-time token on first start.
func (n *Node) enrol(ctx context.Context, client *uplink.Client) (uplink.Credentials, error) {
	st := n.store
	id, key, ok, err := st.Credentials(ctx)
	if err != nil {
		return uplink.Credentials{}, err
	}
	if ok {
		return uplink.Credentials{GatewayID: id, Key: key}, nil
	}
	if n.opts.EnrolToken == "" {
		return uplink.Credentials{}, errors.New("commandcenter: not enrolled yet: give the enrolment token from the cloud's admin page with -enrol-token-file or FUSIONFLEET_ENROL_TOKEN")
	}
	// The key is saved before the cloud sees it: after a crash or a lost
	// answer, the next start repeats the enrolment with the same key and the
	// cloud answers with the same gateway instead of a spent token.
	priv, err := st.PendingEnrolmentKey(ctx, rand.Reader)
	if err != nil {
		return uplink.Credentials{}, fmt.Errorf("commandcenter: gateway key: %w", err)
	}
	// Enrolling again with the same key is safe (above), so a failure
	// that may pass is tried again.
	var resp uplink.EnrolResponse
	err = n.retryStart(ctx, "enrolment", uplink.Retryable, func() error {
		var err error
		resp, err = client.Enrol(ctx, n.opts.EnrolToken, n.opts.Name, priv.Public().(ed25519.PublicKey))
		return err
	})
	if err != nil {
		return uplink.Credentials{}, fmt.Errorf("commandcenter: enrol with %s: %w", n.opts.CloudURL, err)
	}
	if err := st.SaveCredentials(ctx, resp.GatewayID, priv); err != nil {
		return uplink.Credentials{}, err
	}
	if err := st.DropPendingEnrolmentKey(ctx); err != nil {
		return uplink.Credentials{}, err
	}
	fmt.Fprintf(n.opts.Stdout, "enrolled as gateway %s of site %s\n", resp.GatewayID, resp.SiteID)
	return uplink.Credentials{GatewayID: resp.GatewayID, Key: priv}, nil
}

// pairPrinters pins the certificate of every printer not paired before:
// trust on first use, confirmed by the operator (R-SEC-9). The other half
// of pairing, the printer pinning this node's client certificate, is done
// at the printer.
func (n *Node) pairPrinters(ctx context.Context) error {
	o := n.opts
	known, err := n.store.Printers(ctx)
	if err != nil {
		return err
	}
	paired := map[string]commandcenter.Printer{}
	for _, p := range known {
		paired[p.Address] = p
	}
	in := bufio.NewReader(o.Stdin)
	for _, addr := range o.Printers {
		if p, ok := paired[addr]; ok {
			if p.State == commandcenter.CollectionCertificateChanged {
				if err := n.repin(ctx, in, p); err != nil {
					return err
				}
			}
			continue
		}
		var fp deviceapi.Fingerprint
		err := n.retryStart(ctx, "certificate probe of printer "+addr, probeRetryable, func() error {
			var err error
			fp, err = deviceapi.Probe(ctx, addr)
			return err
		})
		if err != nil {
			return fmt.Errorf("commandcenter: pair printer %s: %w", addr, err)
		}
		fmt.Fprintf(o.Stdout, "printer %s presents certificate SHA-256 %s\n", addr, fp)
		if !o.TrustNewPrinters {
			fmt.Fprint(o.Stdout, "Compare it with the fingerprint on the printer's panel. Pin it? [y/N] ")
			answer, _ := in.ReadString('\n')
			if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
				return fmt.Errorf("commandcenter: printer %s not paired: fingerprint not confirmed", addr)
			}
		}
		if _, err := n.store.AddPrinter(ctx, addr, fp, o.Clock.Now()); err != nil && !errors.Is(err, fleet.ErrConflict) {
			return fmt.Errorf("commandcenter: pair printer %s: %w", addr, err)
		}
		fmt.Fprintf(o.Stdout, "pinned printer %s; the printer serves its private fields only once this Command Center "+
			"is paired there too: confirm %s at the printer\n", addr, n.fingerprint)
	}
	return nil
}

// repin asks the operator about a printer whose certificate changed: the
// printer at its address now presents another certificate — replaced, its
// certificate renewed, or an impostor. If it presents the pinned one again,
// collection resumes, as nothing new is trusted. Otherwise the new
// fingerprint is shown and pinned only when the operator confirms it on
// Stdin, whatever TrustNewPrinters says: trust on first use does not
// extend to a change. A printer not confirmed stays stopped; the start
// goes on with the others.
func (n *Node) repin(ctx context.Context, in *bufio.Reader, p commandcenter.Printer) error {
	o := n.opts
	var fp deviceapi.Fingerprint
	err := n.retryStart(ctx, "certificate probe of printer "+p.Address, probeRetryable, func() error {
		var err error
		fp, err = deviceapi.Probe(ctx, p.Address)
		return err
	})
	if err != nil {
		fmt.Fprintf(o.Stdout, "printer %s: certificate changed, and the printer cannot be reached to show the new one (%v); collection stays stopped\n", p.Address, err)
		return nil
	}
	if fp == p.Fingerprint {
		if err := n.store.Repin(ctx, p.Address, fp, o.Clock.Now()); err != nil {
			return fmt.Errorf("commandcenter: repin printer %s: %w", p.Address, err)
		}
		fmt.Fprintf(o.Stdout, "printer %s presents its pinned certificate again; collection resumes\n", p.Address)
		return nil
	}
	fmt.Fprintf(o.Stdout, "printer %s presents a NEW certificate SHA-256 %s; pinned since %s: %s\n",
		p.Address, fp, p.PinnedAt.Format(time.DateOnly), p.Fingerprint)
	fmt.Fprint(o.Stdout, "If the printer was replaced or its certificate renewed, compare the new fingerprint with the printer's panel. Pin the new one? [y/N] ")
	answer, _ := in.ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		fmt.Fprintf(o.Stdout, "\nprinter %s not re-pinned: collection from it stays stopped\n", p.Address)
		return nil
	}
	if err := n.store.Repin(ctx, p.Address, fp, o.Clock.Now()); err != nil {
		return fmt.Errorf("commandcenter: repin printer %s: %w", p.Address, err)
	}
	fmt.Fprintf(o.Stdout, "re-pinned printer %s; collection resumes\n", p.Address)
	return nil
}

// probeRetryable reports whether a failed probe may succeed if tried again:
// any failure but the caller's cancellation (a printer that is still
// starting, a reset, a timeout).
func probeRetryable(err error) bool {
	return !errors.Is(err, context.Canceled)
}
