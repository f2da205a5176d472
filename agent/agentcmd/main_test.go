package agentcmd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/version"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"--help"}, 0, "Usage: tether-agent"},
		{"version", []string{"--version"}, 0, "tether-agent " + version.Version + "\n"},
		{"bad flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"bad level", []string{"--log-level", "loud"}, 2, "Try: tether-agent --help"},
		{"extra arg", []string{"x"}, 2, `unexpected argument "x"`},
		{"no forward budget", []string{"--forward-budget", "0"}, 2, "--forward-budget 0: want 1 to 1048576 MiB"},
		{"half activation", []string{"--state-dir", dir, "--activation-id", "a1"}, 2, "must be given together"},
		{"not enrolled", []string{"--state-dir", dir}, 1, "--activation-id ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := run(tc.args, &out, &out); code != tc.code || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d and %q", code, out.String(), tc.code, tc.want)
			}
		})
	}
}
