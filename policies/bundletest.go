package policies

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// Test runs the bundle's Rego tests (the test_ rules of its modules, usually in
// *_test.rego files) against the bundle's modules and data, as `opa test` would. It
// returns an error listing each test that failed or could not run, by file and line; a
// bundle without tests passes.
func Test(ctx context.Context, b Bundle) error {
	if err := b.Check(); err != nil {
		return err
	}
	name := filename("")
	modules, err := b.modules(name, true)
	if err != nil {
		return err
	}
	data, err := b.data(name)
	if err != nil {
		return err
	}
	results, err := runTests(ctx, modules, data)
	if err != nil {
		return err
	}
	var failed []string
	for _, r := range results {
		switch {
		case r.Error != nil:
			failed = append(failed, fmt.Sprintf("%s: %s: error: %v", r.Location, r.Name, r.Error))
		case r.Fail:
			failed = append(failed, fmt.Sprintf("%s: %s: failed%s", r.Location, r.Name, failedAt(r)))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("policy tests failed (%d of %d):\n%s", len(failed), len(results), strings.Join(failed, "\n"))
	}
	return nil
}

// runTests runs the test_ rules of modules against data and returns their results,
// sorted by file and line.
func runTests(ctx context.Context, modules map[string]*ast.Module, data map[string]any) ([]*tester.Result, error) {
	ch, err := tester.NewRunner().
		SetModules(modules).
		SetStore(inmem.NewFromObject(data)).
		CapturePrintOutput(true).
		RunTests(ctx, nil)
	if err != nil {
		var astErrs ast.Errors
		if errors.As(err, &astErrs) {
			return nil, fmt.Errorf("compile policy tests: %w", located(astErrs))
		}
		return nil, fmt.Errorf("run policy tests: %w", err)
	}
	var results []*tester.Result
	for r := range ch {
		results = append(results, r)
	}
	slices.SortFunc(results, func(a, b *tester.Result) int {
		return cmp.Or(compareLocations(a.Location, b.Location), cmp.Compare(a.Name, b.Name))
	})
	return results, nil
}

func failedAt(r *tester.Result) string {
	if r.FailedAt == nil {
		return ""
	}
	return " at " + r.FailedAt.String()
}

func compareLocations(a, b *ast.Location) int {
	if a == nil || b == nil {
		return cmp.Compare(boolInt(a != nil), boolInt(b != nil))
	}
	return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Row, b.Row))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
