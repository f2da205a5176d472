//go:build linux

package clicmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/tetherhq/tether/cli/session/sessiontest"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// TestInteractiveSession runs a shell session on a real pseudo-terminal: raw mode while
// it runs, the size sent at attach and on SIGWINCH, keystrokes forwarded as typed, and
// the terminal restored afterwards.
func TestInteractiveSession(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal("open a pty:", err)
	}
	// A non-blocking master goes through the poller, so Close interrupts its reader.
	mfd, err := unix.Dup(int(ptmx.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	ptmx.Close()
	if err := unix.SetNonblock(mfd, true); err != nil {
		t.Fatal(err)
	}
	ptmx = os.NewFile(uintptr(mfd), "ptmx")
	var wg sync.WaitGroup
	defer func() {
		ptmx.Close() // unblocks the readers of both ends
		wg.Wait()
		tty.Close()
	}()
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 100, Rows: 30}); err != nil {
		t.Fatal(err)
	}
	var screen bytes.Buffer
	var screenMu sync.Mutex
	wg.Go(func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			screenMu.Lock()
			screen.Write(buf[:n])
			screenMu.Unlock()
			if err != nil {
				return
			}
		}
	})
	termios := func() *unix.Termios {
		t.Helper()
		st, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	before := termios()

	e := newEnv(t)
	req := serveSessions(t, e, func(ctx context.Context, a *sessiontest.Agent, attach frame.Frame) error {
		if sz, _ := frame.DecodeSize(attach.Payload); attach.Type != frame.Resize || sz != (frame.Size{Cols: 100, Rows: 30}) {
			return fmt.Errorf("attach = %s %v, want resize 100x30", attach.Type, sz)
		}
		if st := termios(); st.Lflag&(unix.ICANON|unix.ECHO) != 0 {
			return fmt.Errorf("terminal not in raw mode during the session: lflag %#x", st.Lflag)
		}
		if _, err := ptmx.Write([]byte("x\x03")); err != nil {
			return err
		}
		f, err := a.Next(ctx)
		if err != nil {
			return err
		}
		if f.Type != frame.Stdin || string(f.Payload) != "x\x03" {
			return fmt.Errorf("got %s %q, want stdin \"x\\x03\" (Ctrl-C is a byte)", f.Type, f.Payload)
		}
		if err := a.Send(ctx, frame.Stdout, []byte("echo:x")); err != nil {
			return err
		}
		if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 120, Rows: 40}); err != nil {
			return err
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGWINCH); err != nil {
			return err
		}
		f, err = a.Next(ctx)
		if err != nil {
			return err
		}
		if sz, _ := frame.DecodeSize(f.Payload); f.Type != frame.Resize || sz != (frame.Size{Cols: 120, Rows: 40}) {
			return fmt.Errorf("got %s %v, want resize 120x40", f.Type, sz)
		}
		return a.Exit(ctx, 3, "exit")
	})

	var stderr bytes.Buffer
	a := &app{stdin: tty, stdout: tty, stderr: &stderr, getenv: func(k string) string {
		if k == "TERM" {
			return "xterm"
		}
		return ""
	}}
	code := a.main(t.Context(), []string{"--config", e.cfgPath, "shell", "web-1"})
	if code != 3 {
		t.Errorf("exit %d, want 3; stderr %q", code, stderr.String())
	}
	after := termios()
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("terminal not restored: lflag %#x→%#x iflag %#x→%#x", before.Lflag, after.Lflag, before.Iflag, after.Iflag)
	}
	if !req.Interactive || req.Cols != 100 || req.Rows != 30 || req.Term != "xterm" || len(req.Command) != 0 {
		t.Errorf("request = %+v", *req)
	}
	if want := "\nStarting session with SessionId: alice-0a1b2c3d\n\n\nExiting session with sessionId: alice-0a1b2c3d.\n\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	// The output reaches the terminal.
	polltest.Until(t, 10*time.Second, "the output on the terminal", func() bool {
		screenMu.Lock()
		defer screenMu.Unlock()
		return strings.Contains(screen.String(), "echo:x")
	})
}
