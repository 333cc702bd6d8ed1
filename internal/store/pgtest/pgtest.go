// Package pgtest gives tests a PostgreSQL database of their own on the
// server CI runs on 127.0.0.1:5432: created fresh for one test and dropped
// afterwards, so parallel test runs never collide. Without a server the test
// is skipped loudly — or failed under CI=true, where the server must be there.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// adminURLs are the servers tried, in order, unless the environment
// variable FUSIONFLEET_TEST_POSTGRES names another.
var adminURLs = []string{
	"postgres://root@127.0.0.1:5432/test?sslmode=disable",
	"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
}

// Admin connects to the test server with the right to create databases,
// and returns the connection and its URL.
func Admin(t testing.TB) (*pgx.Conn, string) {
	t.Helper()
	c, u, err := connect(os.Getenv)
	if err == nil {
		return c, u
	}
	msg := "POSTGRESQL TESTS NOT RUN: " + err.Error()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return nil, ""
}

// connect connects to the server FUSIONFLEET_TEST_POSTGRES names, or to
// the first of adminURLs that answers. Its error names every server tried,
// as the URL given, without a password.
func connect(getenv func(string) string) (*pgx.Conn, string, error) {
	urls, from := adminURLs, "FUSIONFLEET_TEST_POSTGRES names another"
	if u := getenv("FUSIONFLEET_TEST_POSTGRES"); u != "" {
		urls, from = []string{u}, "from FUSIONFLEET_TEST_POSTGRES"
	}
	var tried []string
	var errs []error
	for _, u := range urls {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := pgx.Connect(ctx, u)
		cancel()
		if err == nil {
			return c, u, nil
		}
		tried = append(tried, redacted(u))
		errs = append(errs, err)
	}
	return nil, "", fmt.Errorf("no server at %s (%s): %w", strings.Join(tried, " nor "), from, errors.Join(errs...))
}

// redacted is a server URL fit for a log: without its password, and a
// connection string that is not a URL not at all.
func redacted(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" {
		return "the server of the connection string"
	}
	return p.Redacted()
}

// FreshDB creates a database for this test, dropped when it ends, and
// returns its URL.
func FreshDB(t testing.TB) string {
	t.Helper()
	c, base := Admin(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "ff_" + hex.EncodeToString(b)
	if _, err := c.Exec(t.Context(), "CREATE DATABASE "+name); err != nil {
		c.Close(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
		c.Close(ctx)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Create creates a fresh database on the server of admin, a URL with the
// right to create databases, and returns its URL and a function that drops
// it: for programs (the bench command) that need a throwaway database
// outside a test.
func Create(ctx context.Context, admin string) (string, func(context.Context) error, error) {
	u, err := url.Parse(admin)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", nil, fmt.Errorf("postgres server %s: not a URL", redacted(admin))
	}
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("postgres server %s: %w", redacted(admin), err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	b := make([]byte, 6)
	rand.Read(b)
	name := "ff_" + hex.EncodeToString(b)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("postgres server %s: %w", redacted(admin), err)
	}
	drop := func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		defer c.Close(context.WithoutCancel(ctx))
		if _, err := c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}
