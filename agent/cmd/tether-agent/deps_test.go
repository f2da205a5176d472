package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the agent small: it must not link the NATS server or OPA.
func TestDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/nats-io/nats-server", "github.com/open-policy-agent/opa"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("tether-agent links %s", dep)
			}
		}
	}
}
