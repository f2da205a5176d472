// Package casttest runs asciinema, the reference player, on recordings in tests.
package casttest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// AsciinemaCat runs "asciinema cat PATH" and returns what it printed: the recording's
// output, as asciinema reads it. asciinema (the Debian package) must be installed; CI
// installs it. It opens /dev/tty to set raw mode, so it gets a terminal of its own, and
// its standard output is read from a pipe.
func AsciinemaCat(t testing.TB, path string) string {
	t.Helper()
	bin, err := exec.LookPath("asciinema")
	if err != nil {
		t.Fatalf("asciinema is not installed (%v): install it with `apt-get install asciinema`; CI installs it", err)
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "cat", path)
	// Killed at the deadline, asciinema may leave a child holding its output open: Run
	// waits for that pipe no longer than this.
	cmd.WaitDelay = 5 * time.Second
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "ASCIINEMA_CONFIG_HOME="+home, "LC_ALL=C.UTF-8", "PYTHONIOENCODING=utf-8")
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Run(); err != nil {
		t.Fatalf("asciinema cat %s: %v\n%s", path, err, stderr.Bytes())
	}
	return stdout.String()
}
