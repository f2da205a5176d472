package clicmd

import (
	"testing"

	"github.com/tetherhq/tether/streams/version"
)

// tether --version and tether version print what tether-broker and tether-agent print.
func TestVersion(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := e.runEnv(nil, "", args...)
		if want := version.String("tether") + "\n"; r.code != 0 || r.stdout != want || r.stderr != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
}
