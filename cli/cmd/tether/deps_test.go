package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the CLI small: it must not link the NATS server or OPA.
func TestDeps(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool:", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/nats-io/nats-server", "github.com/open-policy-agent/opa"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("tether links %s", pkg)
			}
		}
	}
}
