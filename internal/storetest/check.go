package storetest

import (
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// This file holds the checks and the setup that several suites share.

// tenant creates an org with one site.
func tenant(t *testing.T, s Orgs, name string) (fleet.OrgID, fleet.SiteID) {
	t.Helper()
	org, err := s.CreateOrg(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	site, err := s.CreateSite(t.Context(), org, name+" plant")
	if err != nil {
		t.Fatal(err)
	}
	return org, site
}

// apply applies an envelope and checks how many records were new.
func apply(t *testing.T, s Ingest, env fleet.Envelope, want int) {
	t.Helper()
	n, err := s.ApplyEnvelope(t.Context(), env)
	if err != nil || n != want {
		t.Fatalf("ApplyEnvelope = %d, %v; want %d, nil", n, err, want)
	}
}

// errCase is a call that must fail, with want if it is set.
type errCase struct {
	name string
	fn   func() error
	want error // nil: any error
}

// checkErrs runs each case as a subtest.
func checkErrs(t *testing.T, cases []errCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fn()
			if err == nil {
				t.Fatal("err = nil, want error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// siteSetCmp compares site sets by the sites they hold.
var siteSetCmp = cmp.Comparer(func(a, b access.SiteSet) bool { return a.Equal(b) })

// race runs fn n times at once and returns the errors by call.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errs
}

// checkOneWins checks that exactly one of errs is nil and the rest match
// want.
func checkOneWins(t *testing.T, errs []error, want error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, want):
			t.Errorf("unexpected error: %v, want %v", err, want)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d racing calls won, want 1", wins, len(errs))
	}
}

// closedCall is a call that must fail once its store is closed.
type closedCall struct {
	name string
	fn   func() error
}

// checkClosed closes db and checks that every call then fails with an
// error that is neither fleet.ErrNotFound nor fleet.ErrInvalidToken,
// which would read as "no such user" or "no such token", nor
// fleet.ErrRejected, which would drop records for good.
func checkClosed(t *testing.T, db io.Closer, calls []closedCall) {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fn()
			if err == nil || errors.Is(err, fleet.ErrNotFound) || errors.Is(err, fleet.ErrInvalidToken) || errors.Is(err, fleet.ErrRejected) {
				t.Errorf("on closed store = %v, want an error that is not ErrNotFound, ErrInvalidToken or ErrRejected", err)
			}
		})
	}
}
