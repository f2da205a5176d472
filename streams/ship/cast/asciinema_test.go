package cast

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestAsciinemaCat checks that asciinema itself reads a rendered file: "asciinema cat"
// must print exactly the output, made valid UTF-8. asciinema (2.x, the Debian package) is
// required: CI installs it.
func TestAsciinemaCat(t *testing.T) {
	bin, err := exec.LookPath("asciinema")
	if err != nil {
		t.Fatalf("asciinema is not installed (%v): install it with `apt-get install asciinema`; CI installs it", err)
	}
	s := newSession(newRand(3), 1<<20)
	s.frames = append([]Frame{out(0, "<b>&amp;</b> \"q\" \\ \u2028 \x00\x7f \xc3"), out(1, "\xa9 \xff\n")}, s.frames...)
	raw := append([]byte("<b>&amp;</b> \"q\" \\ \u2028 \x00\x7f \xc3\xa9 \xff\n"), s.stdout...)
	r := render(t, Header{Width: 100, Height: 30, Timestamp: t0, Title: "<t>", Env: map[string]string{"TERM": "xterm"}}, s.frames...)
	path := filepath.Join(t.TempDir(), "session.cast")
	if err := os.WriteFile(path, []byte(r.cast), 0o600); err != nil {
		t.Fatal(err)
	}

	// asciinema cat opens /dev/tty to put it in raw mode: give it a terminal of its own, and
	// read its standard output from a pipe.
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "cat", path)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "ASCIINEMA_CONFIG_HOME="+home, "LC_ALL=C.UTF-8", "PYTHONIOENCODING=utf-8")
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Run(); err != nil {
		t.Fatalf("asciinema cat: %v\n%s", err, stderr.Bytes())
	}
	if want := perByte(raw); stdout.String() != want {
		i := 0
		for i < min(stdout.Len(), len(want)) && stdout.Bytes()[i] == want[i] {
			i++
		}
		t.Fatalf("asciinema cat printed %d bytes, want %d; first difference at byte %d:\n got %q\nwant %q",
			stdout.Len(), len(want), i, stdout.Bytes()[i:min(i+40, stdout.Len())], want[i:min(i+40, len(want))])
	}
}
