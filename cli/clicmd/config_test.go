package clicmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherhq/tether/cli/config"
	"github.com/tetherhq/tether/streams/wire/api"
)

// A second terminal next to the demo needs no export: with no other config, tether reads
// ~/.tether/dev/config.json. --config beats $TETHER_CONFIG, which beats any file found.
func TestConfigPrecedence(t *testing.T) {
	e := newEnv(t)
	e.handle(api.VerbWhoAmI, func([]byte) (any, error) {
		return api.WhoAmIResponse{Principal: api.Principal{Name: "alice", Kind: "user"}}, nil
	})
	good, err := config.Load(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	good.NKeySeedFile = good.SeedPath() // absolute: the copies live elsewhere
	home := t.TempDir()
	if err := config.Write(config.DevPath(home), good); err != nil {
		t.Fatal(err)
	}
	// A config whose broker is nowhere: using it fails, naming it.
	broken := *good
	broken.BrokerURL = "nats://127.0.0.1:1"
	brokenPath := filepath.Join(t.TempDir(), "broken.json")
	if err := config.Write(brokenPath, &broken); err != nil {
		t.Fatal(err)
	}

	ok := func(what string, r result) {
		t.Helper()
		if r.code != 0 || !strings.Contains(r.stdout, "alice") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", what, r.code, r.stdout, r.stderr)
		}
	}
	refused := func(what string, r result, path string) {
		t.Helper()
		if r.code != 1 || !strings.Contains(r.stderr, path) {
			t.Errorf("%s: exit %d, stderr %q, want exit 1 naming %s", what, r.code, r.stderr, path)
		}
	}
	ok("the demo's config, found in ~/.tether/dev", e.runEnv(map[string]string{"HOME": home}, "", "whoami"))
	refused("$TETHER_CONFIG over the demo's", e.runEnv(map[string]string{"HOME": home, "TETHER_CONFIG": brokenPath}, "", "whoami"), brokenPath)
	ok("--config over $TETHER_CONFIG", e.runEnv(map[string]string{"HOME": home, "TETHER_CONFIG": brokenPath}, "", "--config", e.cfgPath, "whoami"))

	// The user's own config is in the demo's way.
	user := filepath.Join(home, ".config", "tether", "config.json")
	if err := config.Write(user, &broken); err != nil {
		t.Fatal(err)
	}
	refused("the user's config over the demo's", e.runEnv(map[string]string{"HOME": home}, "", "whoami"), user)
	if err := os.Remove(user); err != nil {
		t.Fatal(err)
	}
	// Nothing at all: the hint says how to get a config.
	r := e.runEnv(map[string]string{"HOME": t.TempDir()}, "", "whoami")
	if r.code != 1 || !strings.Contains(r.stderr, "Try: tether-broker dev (it writes a client config), or pass --config FILE") {
		t.Errorf("no config: exit %d, stderr %q", r.code, r.stderr)
	}
}
