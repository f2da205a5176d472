package shell

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

func (p *Process) startTTY(cols, rows uint16, cred *syscall.Credential) error {
	if cols == 0 {
		cols = 80
	}
	if rows == 0 {
		rows = 24
	}
	master, tty, err := pty.Open()
	if err != nil {
		return err
	}
	defer tty.Close() // the child has its copies
	if err := pty.Setsize(master, &pty.Winsize{Cols: cols, Rows: rows}); err != nil {
		master.Close()
		return err
	}
	if cred != nil {
		// As login and sshd do: the terminal belongs to the user it is for.
		if err := tty.Chown(int(cred.Uid), -1); err != nil {
			master.Close()
			return fmt.Errorf("give the terminal to uid %d: %w", cred.Uid, err)
		}
	}
	// The shell leads a new session with the terminal (its stdin) as controlling terminal.
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = tty, tty, tty
	p.cmd.SysProcAttr.Setsid = true
	p.cmd.SysProcAttr.Setctty = true
	if err := p.cmd.Start(); err != nil {
		master.Close()
		return err
	}
	// pty's ioctls put the master in blocking mode, where Close cannot interrupt a pending
	// Read. Use a non-blocking duplicate, which the runtime poller manages.
	f, err := nonblocking(master)
	master.Close()
	if err != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		return err
	}
	p.tty, p.stdout = f, f
	return nil
}

func nonblocking(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// Resize sets the terminal size of a TTY process.
func (p *Process) Resize(cols, rows uint16) error {
	if p.tty == nil {
		return errors.New("not a terminal session")
	}
	if cols == 0 || rows == 0 {
		return errors.New("terminal size must not be zero")
	}
	return p.control(func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows})
	})
}

// foreground returns the terminal's foreground process group.
func (p *Process) foreground() (int, error) {
	var pgid int
	err := p.control(func(fd int) error {
		var err error
		pgid, err = unix.IoctlGetInt(fd, unix.TIOCGPGRP)
		return err
	})
	return pgid, err
}

func (p *Process) control(fn func(fd int) error) error {
	rc, err := p.tty.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
