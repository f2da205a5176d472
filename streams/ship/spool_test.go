package ship_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/ship/shipd"
)

// The shipper renders in the broker's state directory, not the system's temporary one:
// what a killed shipper left there is removed at the next start, a second shipper cannot
// render into the same spool, and a shipped session leaves nothing behind.
func TestSpoolLivesInStateAndStaysClean(t *testing.T) {
	state := t.TempDir()
	spool := filepath.Join(state, "spool")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(spool, "tether-ship-1234.cast")
	other := filepath.Join(spool, "notes.txt")
	for _, f := range []string{left, other} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := brokertest.NewServer(t, func(o *brokerd.Options) { o.StateDir = state })
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("a spool file a killed shipper left is still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is not the shipper's was removed: %v", err)
	}

	js, b := buckets(t, s)
	_, err := shipd.Start(t.Context(), shipd.Config{JS: js, Buckets: b, Uploader: nil, Name: "second", SpoolDir: spool})
	if err == nil || !strings.Contains(err.Error(), "in use by tether shipper") {
		t.Fatalf("a second shipper on the broker's spool: %v, want it refused", err)
	}

	startAgent(t, s, "web-1")
	id, _ := run(t, s, "web-1", "seq", "1", "20000")
	waitShipped(t, b, id)
	work, err := filepath.Glob(filepath.Join(spool, ship.WorkFilePattern))
	if err != nil || len(work) != 0 {
		t.Fatalf("spool after shipping holds %q (%v)", work, err)
	}
}
