package subjects

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyGuard keeps the agent and the CLI small: neither may link the NATS server
// or OPA, which only the broker needs.
func TestDependencyGuard(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	forbidden := []string{"github.com/nats-io/nats-server", "github.com/open-policy-agent/opa"}
	for _, pkg := range []string{"github.com/tetherhq/tether/agent/cmd/tether-agent", "github.com/tetherhq/tether/cli/cmd/tether"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed only %d packages", pkg, len(deps))
		}
		for _, d := range deps {
			for _, f := range forbidden {
				if strings.HasPrefix(d, f) {
					t.Errorf("%s links %s", pkg, d)
				}
			}
		}
	}
}
