package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDependencies keeps the two binaries that run on users' machines small: neither the
// agent nor the CLI may link the NATS server or OPA, which only the broker needs.
func TestDependencies(t *testing.T) {
	for _, pkg := range []string{"github.com/tetherhq/tether/agent/cmd/tether-agent", "github.com/tetherhq/tether/cli/cmd/tether"} {
		// The go command that is running this test; no skipping: the guard must run in CI.
		out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed only %d packages", pkg, len(deps))
		}
		for _, dep := range deps {
			for _, banned := range []string{"github.com/nats-io/nats-server", "github.com/open-policy-agent/opa"} {
				if strings.HasPrefix(dep, banned) {
					t.Errorf("%s links %s", pkg, dep)
				}
			}
		}
	}
}
