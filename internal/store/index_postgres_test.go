package store

import (
	"context"
	"encoding/json"
	"testing"
)

// pgPlanNode is a node of EXPLAIN (FORMAT JSON) output.
type pgPlanNode struct {
	NodeType string       `json:"Node Type"`
	Relation string       `json:"Relation Name"`
	Index    string       `json:"Index Name"`
	Plans    []pgPlanNode `json:"Plans"`
}

func (n pgPlanNode) walk(fn func(pgPlanNode)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

func pgExplain(ctx context.Context, t *testing.T, db *DB, q string, args []any) pgPlanNode {
	t.Helper()
	var out []byte
	if err := db.db.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+q, args...).Scan(&out); err != nil {
		t.Fatal(err)
	}
	var plans []struct {
		Plan pgPlanNode `json:"Plan"`
	}
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("pgExplain output %s: %v", out, err)
	}
	return plans[0].Plan
}
