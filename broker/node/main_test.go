package node_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves goroutines behind: brokers, agents and
// clients started by a test must all be gone when it ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Process-wide singletons of libraries, started once and never stopped.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("github.com/open-policy-agent/opa/v1/topdown/cache.(*interQueryCache).cleanStaleValues"),
	)
}
