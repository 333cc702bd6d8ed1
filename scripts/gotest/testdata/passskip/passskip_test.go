// Package passskip passes with one skipped test, for gotest's test.
package passskip

import "testing"

func TestPasses(t *testing.T) {}

func TestNeedsAService(t *testing.T) { t.Skip("SERVICE TESTS NOT RUN: nothing at 127.0.0.1:1") }
