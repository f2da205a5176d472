package policies

import (
	"cmp"
	"context"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/tester"
)

// TestRego runs the Rego unit tests (*_test.rego) in this directory, as
// `opa test policies/` would, one Go subtest per Rego test.
func TestRego(t *testing.T) {
	results, err := tester.Run(context.Background(), ".")
	if err != nil {
		t.Fatalf("run rego tests: %v", err)
	}
	slices.SortFunc(results, func(a, b *tester.Result) int {
		return cmp.Or(cmp.Compare(a.Package, b.Package), cmp.Compare(a.Name, b.Name))
	})
	passed := 0
	for _, r := range results {
		t.Run(r.Package+"/"+r.Name, func(t *testing.T) {
			switch {
			case r.Error != nil:
				t.Errorf("%s: error: %v", r.Location, r.Error)
			case r.Fail:
				t.Errorf("%s: failed%s", r.Location, failedAt(r))
			case r.Skip:
				t.Errorf("%s: a todo_test_ in the shipped policy: finish or remove it", r.Location)
			default:
				passed++
			}
		})
	}
	if passed == 0 {
		t.Fatalf("no rego test passed (%d results)", len(results))
	}
	t.Logf("%d rego tests passed", passed)
}
