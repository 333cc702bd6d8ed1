package main

import (
	"strings"
	"testing"
)

// TestScoreMaintenanceQuick runs "score maintenance -quick" as a user
// would and checks that it says how the score was obtained and scores
// both predictors.
func TestScoreMaintenanceQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates three fleets for six months")
	}
	code, out, errOut := runArgs(t, "score", "maintenance", "--quick")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	t.Log("\n" + out)
	for _, want := range []string{
		"train seeds [1 2], test seeds [101], 10 printers per fleet, 180 days",
		"model printhead Weibull shape", "non-original agent ×", "fleet model", "model w/o covariates", "rated-life baseline",
		"precision ratio", "supplies: 20 % of printers on non-original",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !strings.Contains(errOut, "scored on fleet seed 101") {
		t.Errorf("progress lacks the test fleet:\n%s", errOut)
	}
}

func TestScoreCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no model", []string{"score"}, 2, "Usage: fusionfleet score <model>"},
		{"unknown model", []string{"score", "learning2"}, 2, `unknown model "learning2"`},
		{"seed in both", []string{"score", "maintenance", "-train-seeds", "1,2", "-test-seeds", "2"}, 1, "seed 2 is both"},
		{"bad seed", []string{"score", "maintenance", "-train-seeds", "x"}, 1, "-train-seeds"},
		{"too many printers", []string{"score", "maintenance", "-printers", "5000"}, 1, "want 1 to 1000 printers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runArgs(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantStderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tt.wantCode, tt.wantStderr)
			}
		})
	}
}
