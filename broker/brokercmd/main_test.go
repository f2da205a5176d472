package brokercmd

import (
	"bytes"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/version"
)

// The command line as a new user meets it: a bare tether-broker starts nothing.
func TestOverview(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{nil, 2, "", usage},
		{[]string{"--help"}, 0, usage, ""},
		{[]string{"-h"}, 0, usage, ""},
		{[]string{"help"}, 0, usage, ""},
		{[]string{"--version"}, 0, "tether-broker " + version.Version + "\n", ""},
		{[]string{"version"}, 0, "tether-broker " + version.Version + "\n", ""},
		{[]string{"serve"}, 2, "", "tether-broker: unknown command \"serve\"\n\n" + usage},
	} {
		var stdout, stderr bytes.Buffer
		code := main(tc.args, &stdout, &stderr)
		if code != tc.code || stdout.String() != tc.stdout || stderr.String() != tc.stderr {
			t.Errorf("%q: exit %d\nstdout %q\nstderr %q\nwant exit %d\nstdout %q\nstderr %q",
				tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
	for _, cmd := range []string{"run", "dev", "ship"} {
		for _, args := range [][]string{{cmd, "-h"}, {"help", cmd}} {
			var stdout, stderr bytes.Buffer
			if code := main(args, &stdout, &stderr); code != 0 || !strings.HasPrefix(stderr.String(), "Usage: tether-broker "+cmd+" [flags]\n") {
				t.Errorf("%q: exit %d, stderr %q", args, code, stderr.String())
			}
		}
	}
	if !strings.Contains(usage, "\n  dev ") || !strings.Contains(usage, "\n  ship ") || !strings.Contains(usage, "\n  run ") {
		t.Errorf("the overview misses a subcommand:\n%s", usage)
	}
}

// A broker whose port is taken (a NATS server already on 4222 is common) fails at once,
// naming the address and the flag that moves it, instead of running without listening.
func TestListenPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	host, port, _ := net.SplitHostPort(addr)
	for _, cmd := range []string{"run", "dev"} {
		t.Run(cmd, func(t *testing.T) {
			args := []string{cmd, "--listen", addr, "--state-dir", filepath.Join(t.TempDir(), "state"), "--log-level", "error"}
			if cmd == "dev" {
				args = append(args, "--no-shell")
			}
			var stdout, stderr bytes.Buffer
			begin := time.Now()
			code := main(args, &stdout, &stderr)
			want := "tether-broker: cannot listen for client connections on " + addr + ": address already in use\n" +
				"Try: tether-broker " + cmd + " --listen " + net.JoinHostPort(host, nextPortOf(t, port)) +
				" (another program, often a NATS server, holds " + addr + ")\n"
			if code != 1 || !strings.HasSuffix(stderr.String(), want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and stderr ending\n%s", code, stderr.String(), want)
			}
			if d := time.Since(begin); d > 10*time.Second {
				t.Errorf("took %v to fail", d)
			}
		})
	}
}

func nextPortOf(t *testing.T, port string) string {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p + 1)
}
