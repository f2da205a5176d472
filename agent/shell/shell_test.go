package shell

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	var b bytes.Buffer
	_, err := io.Copy(&b, r)
	if err != nil && !endOfRead(err) {
		t.Fatal(err)
	}
	return b.String()
}

func endOfRead(err error) bool { return strings.Contains(err.Error(), "input/output error") }

func TestCommandPipes(t *testing.T) {
	p, err := Start(Spec{Command: []string{"sh", "-c", "read x; echo got-$x; echo oops >&2; exit 5"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.TTY() || p.Stderr() == nil {
		t.Fatal("pipes expected")
	}
	if _, err := p.Write([]byte("abc\n")); err != nil {
		t.Fatal(err)
	}
	if err := p.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, p.Stdout()); got != "got-abc\n" {
		t.Errorf("stdout = %q", got)
	}
	if got := readAll(t, p.Stderr()); got != "oops\n" {
		t.Errorf("stderr = %q", got)
	}
	if st := p.Wait(); st != (Status{Code: 5, Reason: ReasonExit}) {
		t.Errorf("status = %+v", st)
	}
}

func TestSignalStatus(t *testing.T) {
	p, err := Start(Spec{Command: []string{"sleep", "100"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Signal("NOPE"); err == nil {
		t.Fatal("unknown signal accepted")
	}
	if err := p.Signal("INT"); err != nil {
		t.Fatal(err)
	}
	if st := p.Wait(); st != (Status{Code: 130, Reason: "signal: interrupt"}) {
		t.Errorf("status = %+v", st)
	}
	if err := p.Signal("INT"); err == nil {
		t.Error("signal after exit accepted")
	}
}

func TestTerminateEscalates(t *testing.T) {
	// The shell ignores SIGHUP, so Terminate must fall back to SIGKILL.
	p, err := Start(Spec{Command: []string{"sh", "-c", "trap '' HUP; echo ready; while :; do sleep 0.05; done"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(p.Stdout(), buf); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Terminate(200 * time.Millisecond)
	if st := p.Wait(); st.Code != 128+9 || st.Reason != "signal: killed" {
		t.Errorf("status = %+v", st)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Error("killed before the grace period")
	}
}

func TestTTY(t *testing.T) {
	p, err := Start(Spec{Command: []string{"sh", "-c", "stty size; read x; stty size; echo term=$TERM"}, TTY: true, Cols: 90, Rows: 33, Term: "vt100"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !p.TTY() || p.Stderr() != nil {
		t.Fatal("tty expected")
	}
	var out bytes.Buffer
	buf := make([]byte, 1024)
	for !strings.Contains(out.String(), "33 90") {
		n, err := p.Stdout().Read(buf)
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, out.String())
		}
		out.Write(buf[:n])
	}
	if err := p.Resize(120, 50); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	out.WriteString(readAll(t, p.Stdout())) // until EIO
	if !strings.Contains(out.String(), "50 120") || !strings.Contains(out.String(), "term=vt100") {
		t.Errorf("output %q", out.String())
	}
	if st := p.Wait(); st.Code != 0 {
		t.Errorf("status = %+v", st)
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	// A background child keeps the terminal open after the shell exits; Close must still
	// interrupt the read.
	p, err := Start(Spec{Command: []string{"sh", "-c", "sleep 5 & echo x"}, TTY: true})
	if err != nil {
		t.Fatal(err)
	}
	p.Wait()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, p.Stdout())
	}()
	p.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Read not interrupted by Close")
	}
}

func TestFindShell(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	os.WriteFile(pw, []byte("root:x:0:0:root:/root:/bin/zsh\nbob:x:1000:1000::/home/bob:/bin/fish\n"), 0o644)
	if got := passwdShell(pw, 1000); got != "/bin/fish" {
		t.Errorf("passwdShell = %q", got)
	}
	if got := passwdShell(pw, 42); got != "" {
		t.Errorf("passwdShell(42) = %q", got)
	}
	t.Setenv("SHELL", "/bin/sh")
	if got, err := FindShell(); err != nil || got != "/bin/sh" {
		t.Errorf("FindShell = %q, %v", got, err)
	}
	t.Setenv("SHELL", filepath.Join(dir, "missing"))
	if got, err := FindShell(); err != nil || got == "" {
		t.Errorf("FindShell fallback = %q, %v", got, err)
	}
}

func TestParseSignal(t *testing.T) {
	for _, name := range []string{"INT", "TERM", "HUP", "KILL", "QUIT", "TSTP", "CONT", "WINCH", "USR1", "USR2", "SIGINT"} {
		if _, err := ParseSignal(name); err != nil {
			t.Errorf("ParseSignal(%q): %v", name, err)
		}
	}
	for _, name := range []string{"", "int", "STOP", "SEGV", "SIG"} {
		if _, err := ParseSignal(name); err == nil {
			t.Errorf("ParseSignal(%q) accepted", name)
		}
	}
}
