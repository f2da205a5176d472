package agent_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tetherhq/tether/agent/agent"
)

// A key others can read is refused before anything is dialled, even with an activation at
// hand: enrolling again would only hide the leak.
func TestKeyReadableByOthers(t *testing.T) {
	dir := provision(t)
	seed := filepath.Join(dir, agent.SeedFile)
	if err := os.Chmod(seed, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Config{
		BrokerURL: "nats://127.0.0.1:1", StateDir: dir, ActivationID: "act1", ActivationCode: "code",
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(t.Context())
	want := "agent key " + seed + " is readable by others (mode 0644): run chmod 600 " + seed
	if err == nil || err.Error() != want {
		t.Fatalf("Run = %v\nwant %s", err, want)
	}
}
