package brokerd_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/tetherhq/tether/agent/shell/shelltest"
)

// TestMain fails the package if any test leaves goroutines behind: brokers, agents and
// clients started by a test must all be gone when it ends.
// Shells run with HOME in an empty directory (shelltest.IsolateHome).
func TestMain(m *testing.M) {
	removeHome, err := shelltest.IsolateHome()
	if err != nil {
		panic(err)
	}
	goleak.VerifyTestMain(m,
		goleak.Cleanup(func(int) { removeHome() }),
		// Process-wide singletons of libraries, started once and never stopped.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("github.com/open-policy-agent/opa/v1/topdown/cache.(*interQueryCache).cleanStaleValues"),
	)
}
