// Package fail fails, for gotest's test.
package fail

import "testing"

func TestFails(t *testing.T) { t.Error("the expected failure") }
