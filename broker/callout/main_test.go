package callout_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind: servers, connections
// and responders must all be gone when it ends.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
